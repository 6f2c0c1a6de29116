package records_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// seed inserts n posts with repeating, sometimes null, values: views is
// null every 5th row, due every 4th; titles are unique.
func seed(e *env, c *schema.Collection, n int) []records.Record {
	return e.insertMany(c, n, func(i int) (string, map[string]any) {
		in := map[string]any{
			"title":     fmt.Sprintf("t%04d", (i*37)%n),
			"score":     float64(i%9) / 4,
			"published": i%3 != 0,
		}
		if i%5 != 0 {
			in["views"] = float64(i % 11)
		}
		if i%4 != 0 {
			in["due"] = fmt.Sprintf("2026-01-%02dT00:00:00.000Z", 1+i%7)
		}
		owner := "u1"
		if i%2 == 0 {
			owner = "u2"
		}
		return owner, in
	})
}

// compareValues orders JSON values as the store's ORDER BY does: null
// first, then numbers, booleans (false first) or strings (byte order).
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return cmp.Compare(number(a), number(b))
}

func number(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case int:
		return float64(x)
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

// sorted returns recs admitted by keep, ordered by sort (as List reads
// it), id breaking ties in the direction of the last key.
func sorted(recs []records.Record, sort string, keep func(records.Record) bool) []string {
	var keys []string
	if sort != "" {
		keys = strings.Split(sort, ",")
	}
	if len(keys) == 0 {
		keys = []string{"-id"}
	}
	if last := strings.TrimPrefix(keys[len(keys)-1], "-"); last != "id" {
		dir := ""
		if strings.HasPrefix(keys[len(keys)-1], "-") {
			dir = "-"
		}
		keys = append(keys, dir+"id")
	}
	var out []records.Record
	for _, r := range recs {
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b records.Record) int {
		for _, k := range keys {
			name, desc := strings.TrimPrefix(k, "-"), strings.HasPrefix(k, "-")
			c := compareValues(a[name], b[name])
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return recIDs(out)
}

func recIDs(recs []records.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r["id"].(string)
	}
	return out
}

// listAll pages through q with keyset cursors and returns the ids in the
// order read, failing on a repeated id or too many pages.
func (e *env) listAll(c *schema.Collection, q records.Query) []string {
	e.t.Helper()
	var out []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			e.t.Fatal("too many pages")
		}
		p, err := e.s.List(e.ctx, c, q)
		if err != nil {
			e.t.Fatalf("list %+v: %v", q, err)
		}
		if len(p.Items) > q.Limit && q.Limit > 0 {
			e.t.Fatalf("page of %d items, limit %d", len(p.Items), q.Limit)
		}
		for _, r := range p.Items {
			id := r["id"].(string)
			if seen[id] {
				e.t.Fatalf("sort %v: %s listed twice (page %d)", q.Sort, id, pages)
			}
			seen[id] = true
			out = append(out, id)
		}
		if p.NextCursor == "" {
			return out
		}
		q.Cursor = p.NextCursor
	}
}

func TestKeysetPaging(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		recs := seed(e, c, 250)
		for _, sort := range []string{"", "-id", "id", "views", "-views", "-views,title", "published,-score",
			"due", "-due,-views", "-due,views", "title", "created", "-updated", "score,views", "-published,due,-views"} {
			q := records.Query{Limit: 7}
			if sort != "" {
				q.Sort = []string{sort}
			}
			got := e.listAll(c, q)
			want := sorted(recs, sort, nil)
			if !slices.Equal(got, want) {
				t.Errorf("sort %q: got %d ids, want %d; first difference at %d", sort, len(got), len(want), firstDiff(got, want))
			}
		}
	})
}

// TestKeysetPagingLongValues: sorted on a text whose values are too long
// for a cursor (which then holds the row's id, its values read back), every
// row is listed once, in order — and a cursor whose row was deleted since
// is an invalid cursor, not a 500.
func TestKeysetPagingLongValues(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		var want []string
		for i := range 6 {
			rec := e.insert(c, "", map[string]any{"title": "t", "body": strings.Repeat("long ", 300) + string(rune('f'-i))})
			want = append([]string{rec["id"].(string)}, want...)
		}
		if got := e.listAll(c, records.Query{Sort: []string{"body"}, Limit: 2}); !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		p, err := e.s.List(e.ctx, c, records.Query{Sort: []string{"body"}, Limit: 1})
		if err != nil || len(p.NextCursor) > httpx.MaxCursorLen {
			t.Fatalf("first page: cursor of %d characters, %v", len(p.NextCursor), err)
		}
		if err := e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Delete(e.ctx, tx, c, p.Items[0]["id"].(string), 0, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.List(e.ctx, c, records.Query{Sort: []string{"body"}, Limit: 1, Cursor: p.NextCursor}); errs.CodeOf(err) != records.CodeInvalidCursor {
			t.Fatalf("cursor after a deleted row: %v, want %s", err, records.CodeInvalidCursor)
		}
		// A forged cursor naming a row the list does not hold (here filtered
		// out) tells nothing about it: invalid, as for a row that is gone.
		other := e.insert(c, "", map[string]any{"title": "other", "body": "zzz"})
		forged := httpx.EncodeCursor(map[string]any{"s": "body,id", "i": other["id"]})
		if _, err := e.s.List(e.ctx, c, records.Query{Sort: []string{"body"}, Filter: e.node(c, `title = "t"`), Limit: 1, Cursor: forged}); errs.CodeOf(err) != records.CodeInvalidCursor {
			t.Fatalf("cursor naming a row the filter hides: %v, want %s", err, records.CodeInvalidCursor)
		}
		if _, err := e.s.List(e.ctx, c, records.Query{Sort: []string{"body"}, Limit: 1, Cursor: forged}); err != nil {
			t.Fatalf("the same cursor on a list holding the row: %v", err)
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestListFilterRuleSort(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		recs := seed(e, c, 120)
		rule := `published = true || author = @request.auth.id`
		for _, tc := range []struct {
			filter, sort, user string
			keep               func(records.Record) bool
		}{
			{"views > 5", "-views,title", "u1", func(r records.Record) bool {
				return r["views"] != nil && number(r["views"]) > 5 && (r["published"] == true || r["author"] == "u1")
			}},
			{"", "views", "", func(r records.Record) bool { return r["published"] == true }},
			{"views = null", "-due", "u2", func(r records.Record) bool {
				return r["views"] == nil && (r["published"] == true || r["author"] == "u2")
			}},
			{`due >= "2026-01-03T00:00:00.000Z" && score < 1.5`, "due,-score", "u1", func(r records.Record) bool {
				return r["due"] != nil && r["due"].(string) >= "2026-01-03T00:00:00.000Z" && number(r["score"]) < 1.5 &&
					(r["published"] == true || r["author"] == "u1")
			}},
		} {
			q := records.Query{Limit: 9, Sort: []string{tc.sort}, Access: e.access(c, rule, tc.user)}
			if tc.filter != "" {
				q.Filter = e.node(c, tc.filter)
			}
			got := e.listAll(c, q)
			want := sorted(recs, tc.sort, tc.keep)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("filter %q sort %q as %q: got %d ids, want %d (first difference at %d)",
					tc.filter, tc.sort, tc.user, len(got), len(want), firstDiff(got, want))
			}
		}
	})
}

func TestListPageMode(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		recs := seed(e, c, 95)
		want := sorted(recs, "title", nil)
		p, err := e.s.List(e.ctx, c, records.Query{Page: 3, PerPage: 20, Sort: []string{"title"}, Count: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recIDs(p.Items), want[40:60]) || p.Page != 3 || p.PerPage != 20 || p.NextCursor != "" {
			t.Fatalf("page 3: %d items, page %d perPage %d", len(p.Items), p.Page, p.PerPage)
		}
		if p.TotalItems == nil || *p.TotalItems != 95 {
			t.Fatalf("totalItems %v, want 95", p.TotalItems)
		}
		p, err = e.s.List(e.ctx, c, records.Query{Page: 2, Sort: []string{"title"}, Filter: e.node(c, "published = true")})
		if err != nil {
			t.Fatal(err)
		}
		pub := sorted(recs, "title", func(r records.Record) bool { return r["published"] == true })
		if p.TotalItems != nil || p.PerPage != 30 || !slices.Equal(recIDs(p.Items), pub[30:60]) {
			t.Fatalf("page 2 of published without count: %d items, total %v", len(p.Items), p.TotalItems)
		}
		p, err = e.s.List(e.ctx, c, records.Query{Page: 1, PerPage: 10, Count: true, Filter: e.node(c, "published = true")})
		if err != nil || p.TotalItems == nil || *p.TotalItems != int64(len(pub)) || len(p.Items) != 10 {
			t.Fatalf("count of published: %v %v", p.TotalItems, err)
		}
		p, err = e.s.List(e.ctx, c, records.Query{Page: 99})
		if err != nil || len(p.Items) != 0 || p.Items == nil {
			t.Fatalf("page past the end: %v %v", p.Items, err)
		}
	})
}

func TestListProjection(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		recs := seed(e, c, 40)
		// Sorted by a field left out of the projection: pages still chain.
		q := records.Query{Fields: []string{"title", "views"}, Sort: []string{"-score"}, Limit: 6}
		p, err := e.s.List(e.ctx, c, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Items {
			if len(r) != 3 || r["id"] == nil || r["title"] == nil {
				t.Fatalf("projected record %v, want id, title, views", r)
			}
			if _, ok := r["views"]; !ok {
				t.Fatalf("projected record %v lacks views", r)
			}
		}
		if got, want := e.listAll(c, q), sorted(recs, "-score", nil); !slices.Equal(got, want) {
			t.Fatalf("projected paging: first difference at %d", firstDiff(got, want))
		}
		p, err = e.s.List(e.ctx, c, records.Query{Fields: []string{"created,version"}, Page: 1, PerPage: 2})
		if err != nil || len(p.Items) != 2 || len(p.Items[0]) != 3 || p.Items[0]["version"] == nil {
			t.Fatalf("projection in page mode: %v %v", p.Items, err)
		}
	})
}

func TestListSearch(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		best := e.insert(c, "", map[string]any{"title": "golang golang golang", "body": "golang"})
		second := e.insert(c, "", map[string]any{"title": "a long title with golang once among many other words", "body": "filler text here"})
		e.insert(c, "", map[string]any{"title": "python", "body": "nothing to see"})
		e.insert(c, "", map[string]any{"title": "rust", "body": "ferris"})
		p, err := e.s.List(e.ctx, c, records.Query{Search: "golang"})
		if err != nil {
			t.Fatal(err)
		}
		if got := recIDs(p.Items); !slices.Equal(got, []string{best["id"].(string), second["id"].(string)}) {
			t.Fatalf("search golang: %v, want best then second", p.Items)
		}
		for _, r := range p.Items {
			if _, ok := r["@rank"]; ok {
				t.Fatal("rank leaked into a record")
			}
		}
		// Ranked keyset paging: one row per page, same order.
		if got := e.listAll(c, records.Query{Search: "golang", Limit: 1}); !slices.Equal(got, recIDs(p.Items)) {
			t.Fatalf("ranked paging: %v", got)
		}
		// Page mode, counted, ranked or sorted.
		for _, sort := range [][]string{nil, {"-title"}} {
			p, err = e.s.List(e.ctx, c, records.Query{Search: "golang", Page: 1, PerPage: 5, Count: true, Sort: sort})
			if err != nil || p.TotalItems == nil || *p.TotalItems != 2 || len(p.Items) != 2 {
				t.Fatalf("counted search sorted by %v: %v %v", sort, p.Items, err)
			}
		}
		// An explicit sort replaces the rank; the search still filters.
		p, err = e.s.List(e.ctx, c, records.Query{Search: "golang", Sort: []string{"id"}, Filter: e.node(c, `body = "golang"`)})
		if err != nil || len(p.Items) != 1 || p.Items[0]["id"] != best["id"] {
			t.Fatalf("search with filter and sort: %v %v", p.Items, err)
		}
	})
}

func TestListErrors(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		seed(e, c, 10)
		for _, tc := range []struct {
			name string
			q    records.Query
			code string
			kind errs.Kind
		}{
			{"unknown sort", records.Query{Sort: []string{"nope"}}, "content.invalid_sort", errs.Invalid},
			{"json sort", records.Query{Sort: []string{"-meta"}}, "content.invalid_sort", errs.Invalid},
			{"multi sort", records.Query{Sort: []string{"tags"}}, "content.invalid_sort", errs.Invalid},
			{"unknown field", records.Query{Fields: []string{"title", "nope"}}, "content.validation_failed", errs.Invalid},
			{"limit", records.Query{Limit: 501}, "content.validation_failed", errs.Invalid},
			{"negative limit", records.Query{Limit: -1}, "content.validation_failed", errs.Invalid},
			{"perPage", records.Query{Page: 1, PerPage: 501}, "content.validation_failed", errs.Invalid},
			{"garbage cursor", records.Query{Cursor: "!!"}, "request.invalid_cursor", errs.Invalid},
			{"cursor of another sort", records.Query{Cursor: httpx.EncodeCursor(map[string]any{"s": "title,id", "v": []any{"a", "b"}})},
				"request.invalid_cursor", errs.Invalid},
			{"cursor with a wrong value", records.Query{Sort: []string{"views"},
				Cursor: httpx.EncodeCursor(map[string]any{"s": "views,id", "v": []any{"ten", "b"}})}, "request.invalid_cursor", errs.Invalid},
			{"null id in cursor", records.Query{Cursor: httpx.EncodeCursor(map[string]any{"s": "-id", "v": []any{nil}})},
				"request.invalid_cursor", errs.Invalid},
		} {
			_, err := e.s.List(e.ctx, c, tc.q)
			if errs.CodeOf(err) != tc.code || errs.KindOf(err) != tc.kind {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.code)
			}
		}
		// A cursor made for one sort does not serve another.
		p, err := e.s.List(e.ctx, c, records.Query{Limit: 2, Sort: []string{"title"}})
		if err != nil || p.NextCursor == "" {
			t.Fatal(p, err)
		}
		_, err = e.s.List(e.ctx, c, records.Query{Limit: 2, Sort: []string{"-title"}, Cursor: p.NextCursor})
		wantCode(t, err, errs.Invalid, "request.invalid_cursor")
	})
}

func TestScan(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		recs := e.insertMany(c, 2000, func(i int) (string, map[string]any) {
			return "", map[string]any{"title": fmt.Sprintf("r%d", i)}
		})
		want := recIDs(recs)
		slices.Sort(want)
		var got []string
		err := e.s.Scan(e.ctx, c, func(r records.Record) error {
			got = append(got, r["id"].(string))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("scan: %d ids, want %d in id order (first difference at %d)", len(got), len(want), firstDiff(got, want))
		}
		stop := fmt.Errorf("stop")
		n := 0
		err = e.s.Scan(e.ctx, c, func(records.Record) error {
			if n++; n == 700 {
				return stop
			}
			return nil
		})
		if err != stop || n != 700 {
			t.Fatalf("scan stopped with %v after %d", err, n)
		}
	})
}
