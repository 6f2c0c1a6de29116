package schema_test

import (
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
)

// TestRenameRemakesIndexes: an index follows its column through a rename
// in the database, so indexes are named after columns that change are made
// again. A unique field renamed away while a new one takes its name: both
// unique. A unique field dropped while another is renamed onto its name
// and made unique: the migration runs, and the new one is unique.
func TestRenameRemakesIndexes(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		e.create(schema.Collection{Name: "users", Fields: []schema.Field{{Name: "email", Type: schema.Text, Unique: true}}})
		c := e.edit("users")
		c.Fields[0].Name = "email_old"
		c.Fields = append(c.Fields, schema.Field{Name: "email", Type: schema.Text, Unique: true})
		n := e.update("users", c)
		e.insert(n, map[string]any{"email": "a@example.com", "email_old": "x"}, "")
		if _, err := e.tryInsert(n, map[string]any{"email": "a@example.com", "email_old": "y"}); err == nil {
			t.Fatal("a second email a@example.com was accepted: the new field has no unique index")
		}
		if _, err := e.tryInsert(n, map[string]any{"email": "b@example.com", "email_old": "x"}); err == nil {
			t.Fatal("a second email_old x was accepted: the renamed field lost its unique index")
		}

		e.create(schema.Collection{Name: "pairs", Fields: []schema.Field{
			{Name: "a", Type: schema.Text, Unique: true}, {Name: "b", Type: schema.Text}}})
		c = e.edit("pairs")
		c.Fields = []schema.Field{c.Fields[1]}
		c.Fields[0].Name, c.Fields[0].Unique = "a", true
		n = e.update("pairs", c)
		e.insert(n, map[string]any{"a": "same"}, "")
		if _, err := e.tryInsert(n, map[string]any{"a": "same"}); err == nil {
			t.Fatal("b renamed onto the dropped a as unique accepts duplicates")
		}
	})
}

// TestRenameSearchableFields: when searchable columns are renamed (here
// title to old_title, no longer searchable, and body to title, now
// searchable), the full-text index is made again over the new columns.
func TestRenameSearchableFields(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "title", Type: schema.Text, Searchable: true}, {Name: "body", Type: schema.Text}}})
		apple := e.insert(c, map[string]any{"title": "apple", "body": "banana"}, "")
		d := e.edit("posts")
		d.Fields[0].Name, d.Fields[0].Searchable = "old_title", false
		d.Fields[1].Name, d.Fields[1].Searchable = "title", true
		n := e.update("posts", d)
		if got := e.search(n, "apple"); len(got) != 0 {
			t.Errorf("apple (now in old_title, not searchable) found: %v", got)
		}
		if got := e.search(n, "banana"); !slices.Equal(got, []string{apple}) {
			t.Errorf("banana (now the title) found %v, want %v", got, []string{apple})
		}
	})
}
