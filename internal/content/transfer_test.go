package content_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/store/storetest"
)

const itemsDef = `{"name": "items", "fields": [{"name": "title", "type": "text", "required": true},
  {"name": "n", "type": "number"}, {"name": "tags", "type": "select", "multi": true, "values": ["a", "b"]},
  {"name": "due", "type": "date"}, {"name": "owner", "type": "owner"}],
  "rules": {"list": "", "view": "", "create": "@request.auth.id != null"}}`

// TestExportImport round-trips a collection through NDJSON into another
// database: ids, times, versions and owners kept; then checks batches of
// 500, and that bad input is refused naming its line.
func TestExportImport(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		ctx := context.Background()
		c.collection(r, itemsDef)
		u := c.tokens.mint(nil, nil)
		r.create("items", u, map[string]any{"title": "one", "n": 1.5, "tags": []any{"a", "b"}, "due": "2026-01-02T03:04:05.678Z"})
		two := r.create("items", u, map[string]any{"title": "two"})
		r.call("PATCH", "/v1/collections/items/records/"+two.str("id"), map[string]any{"n": 2}, c.admin).expect(t, 200, "")
		r.create("items", u, map[string]any{"title": `quotes "and" 
 newlines`})

		src, err := content.NewOffline(ctx, r.db)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := src.Export(ctx, "items", &out, nil)
		if err != nil || n != 3 || strings.Count(out.String(), "\n") != 3 {
			t.Fatalf("export = %d, %v:\n%s", n, err, out.String())
		}

		// Another database with the same collection.
		r2 := c.start(storetest.Open(t, r.db.Dialect(), content.Migrations...), r.bus)
		c.collection(r2, itemsDef)
		dst, err := content.NewOffline(ctx, r2.db)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := dst.Import(ctx, "items", bytes.NewReader(out.Bytes()), nil); err != nil || n != 3 {
			t.Fatalf("import = %d, %v", n, err)
		}
		a := r.call("GET", "/v1/collections/items/records?sort=id", nil, user0).expect(t, 200, "")
		b := r2.call("GET", "/v1/collections/items/records?sort=id", nil, user0).expect(t, 200, "")
		if a.Raw != b.Raw {
			t.Errorf("the import differs from the original:\n%s\n%s", a.Raw, b.Raw)
		}
		_, err = dst.Import(ctx, "items", bytes.NewReader(out.Bytes()), nil)
		if err == nil || !strings.Contains(err.Error(), "line 1:") {
			t.Errorf("importing the same ids again: %v, want a clash on line 1", err)
		}

		// Batches of 500; new ids when none is given.
		var gen bytes.Buffer
		for i := range 1100 {
			fmt.Fprintf(&gen, `{"title": "t%d", "n": %d}`+"\n", i, i)
		}
		var progress []int64
		if n, err := dst.Import(ctx, "items", &gen, func(n int64) { progress = append(progress, n) }); err != nil || n != 1100 {
			t.Fatalf("bulk import = %d, %v", n, err)
		}
		if !slices.Equal(progress, []int64{500, 1000, 1100}) {
			t.Errorf("progress = %v, want one call per batch of 500", progress)
		}

		for _, tc := range []struct{ input, want string }{
			{"{\"title\": \"ok\"}\n{not json}\n", "line 2: not a JSON object"},
			{"{\"title\": \"ok\"}\n\n{\"n\": 1}\n", "line 3: "},
			{`{"title": "x", "id": "nope"}`, "line 1: id nope is not a UUID"},
			{`{"title": "x", "tags": ["z"]}`, "line 1: "},
			{`{"title": "x", "version": 0}`, "line 1: version 0"},
			{`{"title": "x", "created": "yesterday"}`, "line 1: created"},
		} {
			_, err := dst.Import(ctx, "items", strings.NewReader(tc.input), nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("import %q: %v, want %q…", tc.input, err, tc.want)
			}
		}
		if _, err := dst.Export(ctx, "nope", &out, nil); err == nil {
			t.Error("exported a collection that does not exist")
		}
	})
}
