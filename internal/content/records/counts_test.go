package records_test

import (
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// TestCountKept: a list's count is given again while the collection does
// not change, and counted afresh after a write through the store (once it
// commits, not before), after Changed (another replica's write), after
// ChangedAll, and after a second whatever happened. Counts under
// different rule arguments are kept apart.
func TestCountKept(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		e.insertMany(c, 3, func(i int) (string, map[string]any) {
			return map[bool]string{true: "ann", false: "bob"}[i < 2], map[string]any{"title": "t", "published": i == 0}
		})
		total := func(a *records.Access) int64 {
			t.Helper()
			p, err := e.s.List(e.ctx, c, records.Query{Page: 1, PerPage: 1, Count: true, Access: a})
			if err != nil || p.TotalItems == nil {
				t.Fatalf("list: %v (total %v)", err, p.TotalItems)
			}
			return *p.TotalItems
		}
		// A row written behind the store's back is not seen while the count is kept.
		behind := func() {
			t.Helper()
			if _, err := e.db.SQL().ExecContext(e.ctx, `INSERT INTO "c_posts" ("id", "created", "updated", "version", "title")
				VALUES ($1, $2, $2, 1, 'x')`, time.Now().String(), "2026-03-01T12:00:00.000Z"); err != nil {
				t.Fatal(err)
			}
		}
		if n := total(nil); n != 3 {
			t.Fatalf("total = %d, want 3", n)
		}
		behind()
		if n := total(nil); n != 3 {
			t.Fatalf("total = %d right after a write the store did not see, want the kept 3", n)
		}
		e.s.Changed("posts")
		if n := total(nil); n != 4 {
			t.Fatalf("total = %d after Changed, want 4", n)
		}

		// A write through the store: stale once it commits, not before.
		err := e.tx(func(tx *store.Tx) error {
			if _, err := e.s.Insert(e.ctx, tx, c, map[string]any{"title": "t"}, "ann", nil); err != nil {
				return err
			}
			if n := total(nil); n != 4 {
				t.Errorf("total = %d while the insert is not committed, want 4", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := total(nil); n != 5 {
			t.Fatalf("total = %d after a committed insert, want 5", n)
		}

		// Rule arguments are part of the query: ann and bob get their own.
		own := func(user string) int64 { return total(e.access(c, "author = @request.auth.id", user)) }
		if a, b := own("ann"), own("bob"); a != 3 || b != 1 {
			t.Fatalf("own totals ann %d bob %d, want 3 and 1", a, b)
		}

		behind()
		e.s.ChangedAll()
		if n := total(nil); n != 6 {
			t.Fatalf("total = %d after ChangedAll, want 6", n)
		}
		behind()
		time.Sleep(1100 * time.Millisecond)
		if n := total(nil); n != 7 {
			t.Fatalf("total = %d a second after a write the store did not see, want 7", n)
		}
	})
}

// TestCountKeptThroughRelations: a count whose filter reads another
// collection through a relation is stale as soon as that collection
// changes.
func TestCountKeptThroughRelations(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people := e.collection(schema.Collection{Name: "people", Fields: []schema.Field{{Name: "name", Type: schema.Text}}})
		notes := e.collection(schema.Collection{Name: "notes", Fields: []schema.Field{
			{Name: "writer", Type: schema.Relation, Collection: "people"}}})
		ann := e.insert(people, "", map[string]any{"name": "ann"})
		e.insert(notes, "", map[string]any{"writer": ann["id"]})
		e.insert(notes, "", map[string]any{"writer": ann["id"]})
		byAnn := func() int64 {
			t.Helper()
			p, err := e.s.List(e.ctx, notes, records.Query{Page: 1, PerPage: 1, Count: true, Filter: e.node(notes, `writer.name = "ann"`)})
			if err != nil || p.TotalItems == nil {
				t.Fatalf("list: %v", err)
			}
			return *p.TotalItems
		}
		if n := byAnn(); n != 2 {
			t.Fatalf("notes by ann = %d, want 2", n)
		}
		err := e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, people, ann["id"].(string), map[string]any{"name": "bea"}, schema.Patch, 0, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := byAnn(); n != 0 {
			t.Fatalf("notes by ann = %d after ann was renamed, want 0 (a count kept past a change of the related collection)", n)
		}
	})
}
