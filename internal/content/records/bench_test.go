package records_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// benchRows is the size of the seeded table, as in the issue's
// PocketBase comparison.
const benchRows = 10_000

// benchPosts is the collection of the benchmarks.
func benchPosts() schema.Collection {
	return schema.Collection{
		Name: "posts",
		Fields: []schema.Field{
			{Name: "title", Type: schema.Text, Required: true, Searchable: true},
			{Name: "body", Type: schema.Text, Searchable: true},
			{Name: "views", Type: schema.Number, Integer: true},
			{Name: "published", Type: schema.Bool},
			{Name: "author", Type: schema.Owner},
		},
		Indexes: [][]string{{"published", "views"}},
	}
}

// benchSeed runs fn on each dialect over a posts table of benchRows
// records (ids returned in insertion order), with extra indexes.
func benchSeed(b *testing.B, indexes [][]string, fn func(b *testing.B, e *env, c *schema.Collection, ids []string)) {
	for _, d := range storetest.Dialects(b) {
		db := storetest.Open(b, d, schema.Migrations)
		e := newEnv(b, db)
		e.clock = nil
		e.s = records.New(db, e.reg)
		def := benchPosts()
		def.Indexes = append(def.Indexes, indexes...)
		c := e.collection(def)
		ids := make([]string, 0, benchRows)
		for len(ids) < benchRows {
			recs := e.insertMany(c, 1000, func(i int) (string, map[string]any) {
				n := len(ids) + i
				return fmt.Sprintf("u%d", n%100), map[string]any{
					"title": fmt.Sprintf("post %d about go and sql", n), "body": "some body text of a post",
					"views": float64(n % 1000), "published": n%2 == 0,
				}
			})
			ids = append(ids, recIDs(recs)...)
		}
		b.Run(string(d), func(b *testing.B) { fn(b, e, c, ids) })
	}
}

func BenchmarkGet(b *testing.B) {
	benchSeed(b, nil, func(b *testing.B, e *env, c *schema.Collection, ids []string) {
		rule := e.access(c, `published = true || author = @request.auth.id`, "u7")
		for _, tc := range []struct {
			name   string
			access *records.Access
		}{{"admin", nil}, {"rule", rule}} {
			b.Run(tc.name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, err := e.s.Get(e.ctx, e.db.SQL(), c, ids[i%len(ids)], tc.access); err != nil && tc.access == nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	})
}

func BenchmarkInsert(b *testing.B) {
	benchSeed(b, nil, func(b *testing.B, e *env, c *schema.Collection, _ []string) {
		in := map[string]any{"title": "a new post", "body": "its body", "views": float64(3), "published": true}
		create := e.access(c, `@request.auth.id != null`, "u1")
		for b.Loop() {
			err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
				_, err := e.s.Insert(e.ctx, tx, c, in, "u1", create)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkListFiltered(b *testing.B) {
	benchSeed(b, nil, func(b *testing.B, e *env, c *schema.Collection, _ []string) {
		q := records.Query{Filter: e.node(c, `views > 500 && published = true`), Sort: []string{"-views"}, Limit: 20}
		for b.Loop() {
			p, err := e.s.List(e.ctx, c, q)
			if err != nil || len(p.Items) != 20 {
				b.Fatal(len(p.Items), err)
			}
		}
	})
}

// BenchmarkListDeepKeyset reads page 1, page 500 and page 1,000 (pages of
// 10: the last page of the table) in turn, newest first and by views
// (which has an index), and reports the cost of each: keyset paging must
// not slow down with depth.
func BenchmarkListDeepKeyset(b *testing.B) {
	benchSeed(b, [][]string{{"views"}}, func(b *testing.B, e *env, c *schema.Collection, _ []string) {
		for _, sort := range []string{"-id", "-views"} {
			b.Run(sort, func(b *testing.B) {
				q := records.Query{Limit: 10, Sort: []string{sort}}
				pages := []records.Query{q} // pages 1, 500 and 1,000
				for n := 2; n <= 1000; n++ {
					p, err := e.s.List(e.ctx, c, q)
					if err != nil || p.NextCursor == "" {
						b.Fatal(err)
					}
					q.Cursor = p.NextCursor
					if n == 500 || n == 1000 {
						pages = append(pages, q)
					}
				}
				spent := make([]time.Duration, len(pages))
				for b.Loop() {
					for i, q := range pages {
						t0 := time.Now()
						p, err := e.s.List(e.ctx, c, q)
						if err != nil || len(p.Items) != 10 || (i == 2) != (p.NextCursor == "") {
							b.Fatal(len(p.Items), err)
						}
						spent[i] += time.Since(t0)
					}
				}
				per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
				b.ReportMetric(per(spent[0]), "page1-ns/op")
				b.ReportMetric(per(spent[1]), "page500-ns/op")
				b.ReportMetric(per(spent[2]), "page1000-ns/op")
				b.ReportMetric(float64(spent[2])/float64(spent[0]), "page1000/page1")
			})
		}
	})
}

// BenchmarkListSearch ranks a full-text search matching every row ("sql")
// and one matching a few ("post 77": the last term is a prefix).
func BenchmarkListSearch(b *testing.B) {
	benchSeed(b, nil, func(b *testing.B, e *env, c *schema.Collection, _ []string) {
		for _, search := range []string{"sql", "post 77"} {
			b.Run(search, func(b *testing.B) {
				q := records.Query{Search: search, Limit: 20}
				for b.Loop() {
					if p, err := e.s.List(e.ctx, c, q); err != nil || len(p.Items) == 0 {
						b.Fatal(len(p.Items), err)
					}
				}
			})
		}
	})
}
