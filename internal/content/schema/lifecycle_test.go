package schema_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// TestLifecycle walks a collection through the changes an admin makes,
// checking the table, its indexes and its data after each.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		posts := e.create(allTypes("posts"))
		if posts.Version != 1 || posts.ID == "" || posts.Created == "" {
			t.Fatalf("created = %+v", posts)
		}
		wantCols := []string{"author", "body", "code", "cover", "created", "due", "email", "files", "id", "meta",
			"parent", "published", "related", "score", "site", "status", "tags", "title", "updated", "version", "views"}
		if e.db.Dialect() == store.SQLite {
			wantCols = append(wantCols, schema.RowIDColumn)
		} else {
			wantCols = append(wantCols, schema.SearchColumn)
		}
		slices.Sort(wantCols)
		if got := e.columns("posts"); !slices.Equal(got, wantCols) {
			t.Fatalf("columns = %v\nwant %v", got, wantCols)
		}
		// Indexes: two declared, code's unique one, and one per single
		// relation and owner column (parent, author).
		wantIx := []string{"author", "code", "parent", "published, views, id", "status, created, id"}
		if e.db.Dialect() == store.Postgres {
			wantIx = append(wantIx, schema.SearchColumn)
		}
		checkIndexes(t, e, "posts", wantIx)

		a := e.insert(posts, map[string]any{"title": "Hello Go", "body": "first post about databases", "views": 10.0, "status": "draft"}, "u1")
		b := e.insert(posts, map[string]any{"title": "Second", "body": "more about go", "views": 3.0, "tags": []any{"go", "sql"}}, "u2")
		if got := e.search(posts, "go"); !sameSet(got, []string{a, b}) {
			t.Errorf("search go = %v, want %v and %v", got, a, b)
		}
		if got := e.search(posts, "datab"); !slices.Equal(got, []string{a}) {
			t.Errorf("prefix search datab = %v, want [%v]", got, a)
		}

		// Rename title → headline, drop score, add summary (searchable),
		// body no longer searchable, a new index; data kept.
		next := e.edit("posts")
		next.Fields = slices.DeleteFunc(next.Fields, func(f schema.Field) bool { return f.Name == "score" })
		for i := range next.Fields {
			switch next.Fields[i].Name {
			case "title":
				next.Fields[i].Name = "headline"
			case "body":
				next.Fields[i].Searchable = false
			}
		}
		next.Fields = append(next.Fields, schema.Field{Name: "summary", Type: schema.Text, Searchable: true})
		next.Indexes = [][]string{{"published", "views"}, {"headline"}}
		posts = e.update("posts", next)
		if posts.Version != 2 {
			t.Errorf("version after update = %d, want 2", posts.Version)
		}
		cols := e.columns("posts")
		if slices.Contains(cols, "title") || slices.Contains(cols, "score") || !slices.Contains(cols, "headline") || !slices.Contains(cols, "summary") {
			t.Errorf("columns after migration = %v", cols)
		}
		rec := e.read(posts, a)
		if rec["headline"] != "Hello Go" || rec["body"] != "first post about databases" || rec["views"] != 10.0 || rec["summary"] != nil {
			t.Errorf("record after migration = %v", rec)
		}
		wantIx = []string{"author", "code", "headline, id", "parent", "published, views, id"}
		if e.db.Dialect() == store.Postgres {
			wantIx = append(wantIx, schema.SearchColumn)
		}
		checkIndexes(t, e, "posts", wantIx)

		// The search index was rebuilt over headline and summary: body
		// words no longer match, headline words do, new rows are indexed.
		if got := e.search(posts, "databases"); len(got) != 0 {
			t.Errorf("search of a field no longer searchable = %v", got)
		}
		if got := e.search(posts, "hello"); !slices.Equal(got, []string{a}) {
			t.Errorf("search hello = %v, want [%v]", got, a)
		}
		c := e.insert(posts, map[string]any{"headline": "Third", "summary": "a summary of hello world"}, "")
		if got := e.search(posts, "hello"); !sameSet(got, []string{a, c}) {
			t.Errorf("search hello after insert = %v, want %v, %v", got, a, c)
		}
		if _, err := e.db.SQL().ExecContext(e.ctx(), `UPDATE c_posts SET headline = 'Renamed' WHERE id = $1`, a); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.SQL().ExecContext(e.ctx(), `DELETE FROM c_posts WHERE id = $1`, c); err != nil {
			t.Fatal(err)
		}
		if got := e.search(posts, "hello"); len(got) != 0 {
			t.Errorf("search hello after update and delete = %v, want none", got)
		}
		if got := e.search(posts, "renamed"); !slices.Equal(got, []string{a}) {
			t.Errorf("search renamed = %v, want [%v]", got, a)
		}

		// Swapping two names keeps each field's data with it.
		next = e.edit("posts")
		for i := range next.Fields {
			switch next.Fields[i].Name {
			case "headline":
				next.Fields[i].Name = "body"
			case "body":
				next.Fields[i].Name = "headline"
			}
		}
		posts = e.update("posts", next)
		if rec := e.read(posts, b); rec["body"] != "Second" || rec["headline"] != "more about go" {
			t.Errorf("after swapping names: %v", rec)
		}

		// No search any more: FTS objects gone, SearchSQL refuses.
		next = e.edit("posts")
		for i := range next.Fields {
			next.Fields[i].Searchable = false
		}
		posts = e.update("posts", next)
		if e.db.Dialect() == store.SQLite && e.tableExists(schema.FTSTable("posts")) {
			t.Error("FTS table left after search was removed")
		}
		if e.db.Dialect() == store.Postgres && slices.Contains(e.columns("posts"), schema.SearchColumn) {
			t.Error("_search column left after search was removed")
		}
		if _, _, _, err := schema.SearchSQL(posts, e.db.Dialect(), "x", 1); errs.CodeOf(err) != schema.CodeInvalidSearch {
			t.Errorf("SearchSQL on unsearchable = %v, want %s", err, schema.CodeInvalidSearch)
		}

		// Delete drops everything.
		if err := e.tryDelete("posts"); err != nil {
			t.Fatal(err)
		}
		if e.tableExists("c_posts") || e.tableExists(schema.FTSTable("posts")) {
			t.Error("tables left after delete")
		}
		if _, ok := e.reg.Get("posts"); ok || e.count("content_collections", "") != 0 {
			t.Error("catalogue still has posts")
		}
	})
}

// TestMigrationRefusals checks the changes Update refuses, each leaving
// the collection as it was.
func TestMigrationRefusals(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		users := e.create(schema.Collection{Name: "users", Fields: []schema.Field{
			{Name: "name", Type: schema.Text},
			{Name: "nick", Type: schema.Text},
			{Name: "age", Type: schema.Number, Integer: true},
		}})
		e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "writer", Type: schema.Relation, Collection: "users"},
		}})
		e.insert(users, map[string]any{"name": "ann", "nick": "a"}, "")
		e.insert(users, map[string]any{"nick": "a"}, "")
		e.insert(users, map[string]any{"name": "bob"}, "")

		change := func(f func(c *schema.Collection)) error {
			c := e.edit("users")
			f(&c)
			_, err := e.tryUpdate("users", c)
			return err
		}
		field := func(c *schema.Collection, name string) *schema.Field {
			f, ok := c.Field(name)
			if !ok {
				t.Fatalf("no field %s", name)
			}
			return f
		}
		tests := []struct {
			name    string
			change  func(c *schema.Collection)
			want    string // "path: code"
			message string // fragment of the message
		}{
			{"type change", func(c *schema.Collection) { field(c, "age").Type = schema.Text; field(c, "age").Integer = false },
				"fields[2].type: immutable", "add a new field"},
			{"integer change", func(c *schema.Collection) { field(c, "age").Integer = false }, "fields[2].integer: immutable", "add a new field"},
			{"required on nulls", func(c *schema.Collection) { field(c, "name").Required = true }, "fields[0].required: has_nulls", "1 records have no name"},
			{"unique on duplicates", func(c *schema.Collection) { field(c, "nick").Unique = true }, "fields[1].unique: has_duplicates", "1 values of nick"},
			{"new required field on rows", func(c *schema.Collection) {
				c.Fields = append(c.Fields, schema.Field{Name: "email", Type: schema.Email, Required: true})
			}, "fields[3].required: has_records", "add it optional"},
			{"rename", func(c *schema.Collection) { c.Name = "people" }, "name: immutable", "cannot change"},
			{"unknown field id", func(c *schema.Collection) { c.Fields[0].ID = "nope" }, "fields[0].id: not_found", "no field"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := change(tt.change)
				if err == nil {
					t.Fatal("update accepted")
				}
				got := fieldErrors(t, err)
				if !slices.Contains(got, tt.want) {
					t.Fatalf("field errors %q, want %q", got, tt.want)
				}
				if !strings.Contains(describe(err), tt.message) {
					t.Errorf("error %s does not say %q", describe(err), tt.message)
				}
				if c, _ := e.reg.Get("users"); c.Version != 1 {
					t.Errorf("version after a refused change = %d", c.Version)
				}
			})
		}
		// The same changes are fine once the data allows them.
		if _, err := e.db.SQL().ExecContext(e.ctx(), `UPDATE c_users SET name = 'x' WHERE name IS NULL`); err != nil {
			t.Fatal(err)
		}
		if err := change(func(c *schema.Collection) { field(c, "name").Required = true }); err != nil {
			t.Errorf("required after filling: %s", describe(err))
		}
		// Unique now creates a unique index that holds.
		if _, err := e.db.SQL().ExecContext(e.ctx(), `UPDATE c_users SET nick = name`); err != nil {
			t.Fatal(err)
		}
		if err := change(func(c *schema.Collection) { field(c, "nick").Unique = true }); err != nil {
			t.Fatalf("unique after fixing: %s", describe(err))
		}
		_, err := e.db.SQL().ExecContext(e.ctx(), `UPDATE c_users SET nick = 'ann'`)
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate nick after unique: %v, want a unique violation", err)
		}

		// A collection others point at cannot go; one nobody points at can.
		if err := e.tryDelete("users"); errs.CodeOf(err) != schema.CodeConflict || !strings.Contains(err.Error(), "posts.writer") {
			t.Errorf("delete of a referenced collection = %v, want %s naming posts.writer", err, schema.CodeConflict)
		}
		if err := e.tryDelete("posts"); err != nil {
			t.Fatal(err)
		}
		if err := e.tryDelete("users"); err != nil {
			t.Errorf("delete once unreferenced: %v", err)
		}
		if err := e.tryDelete("users"); errs.CodeOf(err) != schema.CodeNotFound {
			t.Errorf("delete twice = %v, want %s", err, schema.CodeNotFound)
		}
		if _, err := e.tryUpdate("users", schema.Collection{}); errs.CodeOf(err) != schema.CodeNotFound {
			t.Errorf("update of nothing = %v, want %s", err, schema.CodeNotFound)
		}
	})
}

func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		e.create(schema.Collection{Name: "notes"})
		if _, err := e.tryCreate(schema.Collection{Name: "notes"}); errs.CodeOf(err) != schema.CodeExists || errs.KindOf(err) != errs.Conflict {
			t.Errorf("second create = %v, want %s", err, schema.CodeExists)
		}
		_, err := e.tryCreate(schema.Collection{Name: "links", Fields: []schema.Field{{Name: "to_note", Type: schema.Relation, Collection: "nope"}}})
		if got := fieldErrors(t, err); !slices.Equal(got, []string{"fields[0].collection: not_found"}) {
			t.Errorf("relation to nothing: %q", got)
		}
		if e.tableExists("c_links") {
			t.Error("a refused create left a table")
		}
		// Stale version: precondition failed.
		c := e.edit("notes")
		c.Version = 7
		if _, err := e.tryUpdate("notes", c); errs.CodeOf(err) != schema.CodePrecondition || errs.KindOf(err) != errs.PreconditionFailed {
			t.Errorf("update at a stale version = %v, want %s", err, schema.CodePrecondition)
		}
	})
}

// TestIndexChanges adds and removes declared indexes and unique fields.
func TestIndexChanges(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		e.create(schema.Collection{Name: "items", Fields: []schema.Field{
			{Name: "sku", Type: schema.Text},
			{Name: "price", Type: schema.Number},
			{Name: "shop", Type: schema.Relation, Collection: "items"},
		}, Indexes: [][]string{{"shop", "price"}}})
		// shop leads a declared index: no extra lookup index for it.
		checkIndexes(t, e, "items", []string{"shop, price, id"})

		c := e.edit("items")
		c.Indexes = [][]string{{"price"}, {"sku", "price"}}
		c.Fields[0].Unique = true
		e.update("items", c)
		checkIndexes(t, e, "items", []string{"price, id", "shop", "sku", "sku, price, id"})

		c = e.edit("items")
		c.Indexes = nil
		c.Fields[0].Unique = false
		c.Fields = c.Fields[:2] // drop the relation: its index goes first
		e.update("items", c)
		checkIndexes(t, e, "items", nil)
	})
}

// checkIndexes compares the table's indexes (by their columns, NULLS
// FIRST left out) with want.
func checkIndexes(t *testing.T, e *env, collection string, want []string) {
	t.Helper()
	got := slices.Sorted(maps.Values(e.indexes(collection)))
	for i, g := range got {
		got[i] = strings.ReplaceAll(g, " NULLS FIRST", "")
		if strings.Contains(g, "gin") || strings.Contains(g, schema.SearchColumn) {
			got[i] = schema.SearchColumn
		}
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("indexes of %s = %q, want %q", collection, got, want)
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestNamesDoNotCollide: the objects of one collection (primary key, indexes,
// search objects) never take a name another collection's table needs.
func TestNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		def := func(name string) schema.Collection {
			return schema.Collection{Name: name, Fields: []schema.Field{
				{Name: "title", Type: schema.Text, Searchable: true, Unique: true},
				{Name: "up", Type: schema.Relation, Collection: name},
			}, Indexes: [][]string{{"title", "up"}}}
		}
		for _, name := range []string{"posts", "posts_pkey", "posts_search", "posts_title", "p_posts", "i_posts", "t_posts"} {
			e.create(def(name))
		}
		if got := len(e.reg.All()); got != 7 {
			t.Errorf("%d collections", got)
		}
	})
}
