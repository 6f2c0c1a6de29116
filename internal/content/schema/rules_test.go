package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
)

// TestRulesAcrossCollections: a change that would break another
// collection's rule (following a relation into it) is refused; rules are
// checked against the definition being saved.
func TestRulesAcrossCollections(t *testing.T) {
	t.Parallel()
	if !rulesWork() {
		t.Skip("expr.Parse is not implemented yet")
	}
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		e.create(schema.Collection{Name: "users", Fields: []schema.Field{{Name: "name", Type: schema.Text}}})
		e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "writer", Type: schema.Relation, Collection: "users"},
			{Name: "title", Type: schema.Text},
		}, Rules: schema.Rules{List: ptr(`writer.name = "ann" || title ~ "x"`)}})

		c := e.edit("users")
		c.Fields[0].Name = "full_name"
		_, err := e.tryUpdate("users", c)
		if got := fieldErrors(t, err); !slices.Equal(got, []string{"fields: in_use"}) || !strings.Contains(describe(err), `list rule of collection "posts"`) {
			t.Errorf("rename of a field another rule uses: %s", describe(err))
		}

		p := e.edit("posts")
		p.Fields[1].Name = "heading" // its own rule still says title
		_, err = e.tryUpdate("posts", p)
		if got := fieldErrors(t, err); !slices.Equal(got, []string{"rules.list: invalid_rule"}) {
			t.Errorf("rename of a field its own rule uses: %s", describe(err))
		}
		p.Rules.List = ptr(`writer.name = "ann" || heading ~ "x"`)
		e.update("posts", p)
	})
}

// TestExprOverRegistry compiles filters with the registry as expr.Schema
// and runs them on both dialects over rows stored with Encode.
func TestExprOverRegistry(t *testing.T) {
	t.Parallel()
	if !rulesWork() {
		t.Skip("expr.Parse is not implemented yet")
	}
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		posts := e.create(allTypes("posts"))
		a := e.insert(posts, map[string]any{"title": "a", "views": 10.0, "published": true, "tags": []any{"go"}, "due": "2026-05-01T00:00:00Z"}, "u1")
		b := e.insert(posts, map[string]any{"title": "b", "views": 3.0, "published": false, "tags": []any{"sql", "web"}, "parent": a}, "u2")
		tests := map[string][]string{
			`views > 5`:                         {a},
			`published = true`:                  {a},
			`published = false`:                 {b},
			`tags = "web"`:                      {b},
			`due > "2026-01-01"`:                {a},
			`author = @request.auth.id`:         {b},
			`parent.title = "a"`:                {b},
			`version = 1 && created <= updated`: {a, b},
		}
		for src, want := range tests {
			n, err := expr.Parse(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if err := expr.Check(n, e.reg, "posts"); err != nil {
				t.Errorf("%s: Check: %v", src, err)
				continue
			}
			cond, args, err := expr.SQL(n, e.reg, "posts", e.db.Dialect(), expr.Auth{"id": "u2"}, 1)
			if err != nil {
				t.Errorf("%s: SQL: %v", src, err)
				continue
			}
			got := e.strings("SELECT t.id FROM c_posts t WHERE "+cond, args...)
			if !sameSet(got, want) {
				t.Errorf("%s: %v, want %v", src, got, want)
			}
		}
	})
}
