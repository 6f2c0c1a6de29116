package throttle_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestCheckKnown: CheckKnown answers as Check and names the keys with
// failures counted, blocked or not.
func TestCheckKnown(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		th := newThrottle(t, db, newClock())
		ctx := context.Background()
		mustFail(t, th, "acct")
		for range testPolicy.Free {
			mustFail(t, th, "ip")
		}
		wait, known, err := th.CheckKnown(ctx, "ip", "acct", "fresh")
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(known)
		if wait != testPolicy.Base || !slices.Equal(known, []string{"acct", "ip"}) {
			t.Fatalf("CheckKnown = %s, %q; want %s, [acct ip]", wait, known, testPolicy.Base)
		}
		if _, known, _ := th.CheckKnown(ctx, "fresh"); len(known) != 0 {
			t.Fatalf("a key never failed is known: %q", known)
		}
	}, throttle.Migrations)
}

// TestProbe: a Probe joined to another query answers as CheckKnown
// whether or not the other side has a row, with any number of keys.
func TestProbe(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		th := newThrottle(t, db, newClock())
		ctx := context.Background()
		mustFail(t, th, "acct")
		for range testPolicy.Free {
			mustFail(t, th, "ip")
		}
		for _, tc := range []struct {
			keys      []string
			wait      time.Duration
			known     []string
			otherSide string
		}{
			{[]string{"ip", "acct", "fresh"}, testPolicy.Base, []string{"acct", "ip"}, "acct"},
			{[]string{"fresh", "acct"}, 0, []string{"acct"}, "nothing"},
			{[]string{"fresh"}, 0, nil, "ip"},
			{nil, 0, nil, "acct"},
		} {
			p := th.Probe(tc.keys...)
			from, args := p.From(2)
			var other sql.NullInt64
			err := db.SQL().QueryRowContext(ctx, `SELECT `+p.Columns("t")+`, x.failures
				FROM `+from+` t LEFT JOIN auth_throttle x ON x.key = $1`, append([]any{tc.otherSide}, args...)...).
				Scan(append(p.Dests(), &other)...)
			if err != nil {
				t.Fatalf("%q: %v", tc.keys, err)
			}
			wait, known := p.Result()
			if wait != tc.wait || !slices.Equal(known, tc.known) || other.Valid != (tc.otherSide != "nothing") {
				t.Errorf("probe of %q beside %s = %s, %q, %v; want %s, %q", tc.keys, tc.otherSide, wait, known,
					other, tc.wait, tc.known)
			}
		}
	}, throttle.Migrations)
}

// TestFailIn: FailIn counts in the caller's transaction, blocks as Fail
// does, and counts nothing when that transaction rolls back.
func TestFailIn(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		th := newThrottle(t, db, newClock())
		ctx := context.Background()
		errRollback := errors.New("rolled back")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := th.FailIn(ctx, tx, "k", "j"); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if _, known, err := th.CheckKnown(ctx, "k", "j"); err != nil || len(known) != 0 {
			t.Fatalf("after a rollback: %q known, %v", known, err)
		}
		for range testPolicy.Free {
			if err := db.InTx(ctx, func(tx *store.Tx) error { return th.FailIn(ctx, tx, "k", "j", "k") }); err != nil {
				t.Fatal(err)
			}
		}
		if n := failures(t, db, "k"); n != testPolicy.Free {
			t.Errorf("k: %d failures, want %d", n, testPolicy.Free)
		}
		if d := mustCheck(t, th, "j"); d != testPolicy.Base {
			t.Errorf("j after %d failures: wait %s, want %s", testPolicy.Free, d, testPolicy.Base)
		}
	}, throttle.Migrations)
}
