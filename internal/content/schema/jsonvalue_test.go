package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// nested is a JSON value depth arrays deep around the string "deep" (a
// scalar for depth 0).
func nested(depth int) any {
	var v any = "deep"
	for range depth {
		v = []any{v}
	}
	return v
}

// TestJSONDepth: the deepest json value Encode accepts is one both
// databases' JSON functions take, so that ~ filters keep working on the
// collection (SQLite refuses values nested more than 1000 deep).
func TestJSONDepth(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		c := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "meta", Type: schema.JSON}}})
		if _, err := c.Encode(map[string]any{"meta": nested(1001)}, schema.Create, "", e.db.Dialect()); err == nil {
			t.Error("Encode accepts a json value nested 1001 deep")
		}
		// Brackets inside strings are text, not nesting.
		id := e.insert(c, map[string]any{"meta": nested(schema.MaxJSONDepth)}, "")
		flat := e.insert(c, map[string]any{"meta": map[string]any{"s": strings.Repeat("[{", 2000) + "deep"}}, "")
		n, err := expr.Parse(`meta ~ "deep"`)
		if err != nil {
			t.Fatal(err)
		}
		cond, args, err := expr.SQL(n, e.reg, "docs", e.db.Dialect(), nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := e.strings(`SELECT t.id FROM c_docs AS "t" WHERE `+cond, args...)
		want := []string{id, flat}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("meta ~ \"deep\" finds %v, want %v", got, want)
		}
	})
}

func TestJSONDepthEncode(t *testing.T) {
	t.Parallel()
	c := valid(t)
	for depth, ok := range map[int]bool{0: true, 1: true, schema.MaxJSONDepth: true, schema.MaxJSONDepth + 1: false, 5000: false} {
		_, err := c.Encode(map[string]any{"meta": nested(depth)}, schema.Patch, "", store.SQLite)
		if (err == nil) != ok {
			t.Errorf("json nested %d deep: %v", depth, err)
		}
	}
}
