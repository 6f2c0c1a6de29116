package schema_test

import (
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
)

// TestGuardedBy: a filter compiled with the registry wrapped for a caller
// reads through a relation only the records that caller may view.
func TestGuardedBy(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		if _, ok := any(e.reg).(expr.Guarded); ok {
			t.Error("Registry guards relations itself: the service could not wrap it per caller")
		}
		if _, ok := any(e.reg.Snapshot()).(expr.Guarded); ok {
			t.Error("Snapshot guards relations itself: the service could not wrap it per caller")
		}
		users := e.create(schema.Collection{Name: "users", Fields: []schema.Field{{Name: "phone", Type: schema.Text}}})
		posts := e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "author", Type: schema.Relation, Collection: "users"},
		}})
		ann := e.insert(users, map[string]any{"phone": "555-0100"}, "")
		bob := e.insert(users, map[string]any{"phone": "555-0199"}, "")
		annPost := e.insert(posts, map[string]any{"author": ann}, "")
		bobPost := e.insert(posts, map[string]any{"author": bob}, "")

		self, err := expr.Parse(`id = @request.auth.id`)
		if err != nil {
			t.Fatal(err)
		}
		views := map[string]func(string) (expr.Node, bool){
			"admin":  func(string) (expr.Node, bool) { return nil, true },
			"hidden": func(c string) (expr.Node, bool) { return nil, c != "users" },
			"self": func(c string) (expr.Node, bool) {
				if c == "users" {
					return self, true
				}
				return nil, true
			},
		}
		cases := []struct {
			view, caller string
			want         []string
		}{
			{"admin", ann, []string{annPost, bobPost}},
			{"hidden", ann, nil},
			{"hidden", "", nil},
			{"self", ann, []string{annPost}},
			{"self", bob, []string{bobPost}},
			{"self", "", nil},
		}
		filter, err := expr.Parse(`author.phone ~ "555"`)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			s := schema.GuardedBy(e.reg.Snapshot(), views[c.view])
			if _, ok := s.(expr.Guarded); !ok {
				t.Fatal("GuardedBy does not return an expr.Guarded")
			}
			auth := expr.Auth{"id": c.caller}
			cond, args, err := expr.SQL(filter, s, "posts", e.db.Dialect(), auth, 1)
			if err != nil {
				t.Fatal(err)
			}
			got := e.strings(`SELECT t.id FROM c_posts AS "t" WHERE `+cond, args...)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s view, caller %q: %s selects %v, want %v", c.view, c.caller, cond, got, want)
			}
		}
	})
}
