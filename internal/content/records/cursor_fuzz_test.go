package records

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// FuzzCursor feeds List's untrusted inputs, the sort and the cursor, to
// their parsers: no panic; a bad one is an Invalid error; a good one gives
// keyset conditions with one argument per placeholder.
func FuzzCursor(f *testing.F) {
	c := &schema.Collection{Name: "posts", Fields: []schema.Field{
		{Name: "title", Type: schema.Text}, {Name: "views", Type: schema.Number, Integer: true},
		{Name: "score", Type: schema.Number}, {Name: "ok", Type: schema.Bool}, {Name: "due", Type: schema.Date},
		{Name: "tags", Type: schema.Select, Multi: true, Values: []string{"a"}},
	}}
	m := newMeta(c)
	f.Add("-views,title", httpx.EncodeCursor(cursor{Sort: "-views,title,id", Values: nil}))
	f.Add("due", httpx.EncodeCursor(map[string]any{"s": "due,id", "v": []any{"2026-01-01T00:00:00.000Z", "x"}}))
	f.Add("-ok,score", httpx.EncodeCursor(map[string]any{"s": "-ok,score,id", "v": []any{nil, 1.5, "x"}}))
	f.Add("", httpx.EncodeCursor(map[string]any{"s": "-id", "v": []any{"z"}}))
	f.Add("tags", "!!")
	f.Add("+title,-id,views", "e30")
	f.Fuzz(func(t *testing.T, sort, cur string) {
		o, err := m.parseSort(strings.Split(sort, ";"), strings.HasPrefix(sort, "?"))
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("sort %q: %v", sort, err)
			}
			return
		}
		for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
			vals, id, err := decodeCursor(o, cur, d)
			if err != nil {
				if errs.KindOf(err) != errs.Invalid {
					t.Fatalf("cursor %q: %v", cur, err)
				}
				continue
			}
			if id != "" { // the values are the row's, read by id
				continue
			}
			exprs := make([]string, len(o.keys))
			for i, k := range o.keys {
				exprs[i] = "k" + k.name()
			}
			segs := m.keyset(o, exprs, vals, 3)
			if len(segs) == 0 || len(segs) > 2 {
				t.Fatalf("%d segments", len(segs))
			}
			for i, seg := range segs {
				if got := max(2, maxPlaceholder(seg.cond)); got != 2+len(seg.args) {
					t.Fatalf("segment %d %q has placeholders up to $%d for %d arguments from $3", i, seg.cond, got, len(seg.args))
				}
			}
		}
	})
}
