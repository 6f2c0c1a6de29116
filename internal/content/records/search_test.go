package records_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/records"
)

// TestListSearchManyMatches pages, counts and sorts a search matching
// hundreds of rows under a filter and an access rule (whose arguments are
// numbered before the search's): every admitted row comes once, and the
// count agrees.
func TestListSearchManyMatches(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		want := map[string]bool{}
		recs := e.insertMany(c, 400, func(i int) (string, map[string]any) {
			owner := []string{"u1", "u2"}[i%2]
			return owner, map[string]any{"title": fmt.Sprintf("golang post %d", i),
				"body": "golang " + []string{"", "golang", "golang golang"}[i%3], "views": float64(i), "published": i%3 == 0}
		})
		for i, r := range recs {
			if i >= 100 && (i%3 == 0 || i%2 == 0) {
				want[r["id"].(string)] = true
			}
		}
		q := records.Query{Search: "golang", Filter: e.node(c, `views >= 100`),
			Access: e.access(c, `published = true || author = @request.auth.id`, "u1"), Limit: 9}
		for _, sort := range [][]string{nil, {"-views"}} {
			q.Sort = sort
			got := e.listAll(c, q)
			if len(got) != len(want) || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(maps.Keys(want))) {
				t.Fatalf("sort %v: %d rows, want %d", sort, len(got), len(want))
			}
		}
		p, err := e.s.List(e.ctx, c, records.Query{Search: "golang", Filter: q.Filter, Access: q.Access, Page: 2, PerPage: 50, Count: true})
		if err != nil || p.TotalItems == nil || *p.TotalItems != int64(len(want)) || len(p.Items) != 50 {
			t.Fatalf("page 2, counted: %d items, total %v, err %v; want 50 of %d", len(p.Items), p.TotalItems, err, len(want))
		}
	})
}

// TestSearchPagesAcrossWrites: the pages of a search list every match once
// although rows were written between them (on SQLite every write moves
// FTS5's ranks: a cursor holding the last rank found nothing after it).
func TestSearchPagesAcrossWrites(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		want := map[string]bool{}
		for i := range 6 {
			rec := e.insert(c, "", map[string]any{"title": "golang " + strings.Repeat("filler ", i*3),
				"body": strings.Repeat("golang ", 6-i)})
			want[rec["id"].(string)] = true
		}
		first, err := e.s.List(e.ctx, c, records.Query{Search: "golang", Limit: 3})
		if err != nil || first.NextCursor == "" {
			t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
		}
		for range 20 { // matching nothing, but every one changes the table's statistics
			e.insert(c, "", map[string]any{"title": "rust", "body": strings.Repeat("other words here ", 30)})
		}
		second, err := e.s.List(e.ctx, c, records.Query{Search: "golang", Limit: 3, Cursor: first.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, rec := range append(first.Items, second.Items...) {
			got[rec["id"].(string)] = true
		}
		if len(got) != len(want) || len(first.Items)+len(second.Items) != len(want) {
			t.Fatalf("two pages listed %d rows (%d distinct), want the %d matches once each", len(first.Items)+len(second.Items), len(got), len(want))
		}
	})
}

// TestContainsAColumn: `"text" ~ field` makes the field's value the
// pattern; a value longer than SQLite's 50,000-byte LIKE limit must not
// break the list (it did on SQLite, for every caller, once one row held
// such a text).
func TestContainsAColumn(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		short := e.insert(c, "", map[string]any{"title": "short", "body": "Lo"})
		e.insert(c, "", map[string]any{"title": "long", "body": strings.Repeat("lo", 30_000)})
		p, err := e.s.List(e.ctx, c, records.Query{Filter: e.node(c, `"Hello" ~ body`)})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0]["id"] != short["id"] {
			t.Fatalf("listed %d records, want only the one whose body is in \"Hello\" (case folded)", len(p.Items))
		}
	})
}
