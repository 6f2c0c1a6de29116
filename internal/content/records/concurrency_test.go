package records_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

func TestConcurrentUpdates(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		id := e.insert(c, "", map[string]any{"title": "x", "views": float64(0)})["id"].(string)
		const writers, each = 6, 5
		update := func(ifVersion int64, views int) error {
			return e.tx(func(tx *store.Tx) error {
				_, _, err := e.s.Update(e.ctx, tx, c, id, map[string]any{"views": float64(views)}, schema.Patch, ifVersion, nil)
				return err
			})
		}
		// Without If-Match every write lands.
		var wg sync.WaitGroup
		errc := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					errc <- update(0, w*each+i)
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("update without If-Match: %v", err)
			}
		}
		v := e.get(c, id)["version"].(float64)
		if v != 1+writers*each {
			t.Fatalf("version %v after %d updates", v, writers*each)
		}
		// With the same If-Match, exactly one wins.
		results := make(chan error, writers)
		for w := range writers {
			wg.Go(func() { results <- update(int64(v), w) })
		}
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case errs.KindOf(err) != errs.PreconditionFailed:
				t.Fatalf("racing If-Match: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d writers won with the same If-Match, want 1", won)
		}
	})
}

// TestListStatementChurn lists with more query shapes than the store keeps
// prepared, from several goroutines: statements evicted (and closed) while
// others use them must not fail a list.
func TestListStatementChurn(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		seed(e, c, 20)
		var wg sync.WaitGroup
		errc := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				for i := range 300 {
					limit := 1 + (i*7+g*131)%500 // the limit is part of the text
					p, err := e.s.List(e.ctx, c, records.Query{Limit: limit, Filter: e.node(c, "views >= 0")})
					if err == nil && len(p.Items) != min(limit, 16) {
						err = fmt.Errorf("limit %d: %d items", limit, len(p.Items))
					}
					if err != nil {
						errc <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
	})
}
