package schema_test

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// TestDeclaredIndexServesListOrder: a declared index ends with id and, on
// PostgreSQL, has its field columns NULLS FIRST, so that the plan of a list
// query (the ORDER BY records writes: NULLS LAST descending, id last in the
// key's direction) reads it in order instead of sorting.
func TestDeclaredIndexServesListOrder(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		posts := e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "published", Type: schema.Bool},
			{Name: "views", Type: schema.Number, Integer: true},
			{Name: "title", Type: schema.Text, Unique: true},
		}, Indexes: [][]string{{"published", "views"}, {"created", "id"}}})
		for i := range 50 {
			in := map[string]any{"published": i%2 == 0, "title": strings.Repeat("x", i+1)}
			if i%7 != 0 {
				in["views"] = i * 40
			}
			e.insert(posts, in, "")
		}
		want := map[string]string{"published, views, id": "", "created, id": "", "title": ""}
		if e.db.Dialect() == store.Postgres {
			want = map[string]string{"published NULLS FIRST, views NULLS FIRST, id": "", "created, id": "", "title": ""}
		}
		got := e.indexes("posts")
		for _, cols := range got {
			if _, ok := want[cols]; !ok {
				t.Errorf("index (%s), want the indexes %q", cols, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("indexes %q, want %d", got, len(want))
		}

		index := ""
		for _, ix := range posts.TableIndexes() {
			if ix.Sorted && ix.Columns[0] == "published" {
				index = ix.Name
			}
		}
		n, err := expr.Parse(`views > 500 && published = true`)
		if err != nil {
			t.Fatal(err)
		}
		cond, args, err := expr.SQL(n, e.reg, "posts", e.db.Dialect(), nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, order := range []string{`t."views" DESC NULLS LAST, t."id" DESC`, `t."views" ASC NULLS FIRST, t."id" ASC`} {
			q := `SELECT t."id" FROM "c_posts" t WHERE (` + cond + `) ORDER BY ` + order + ` LIMIT 21`
			plan := explain(t, e, q, args...)
			if !strings.Contains(plan, index) {
				t.Errorf("%s is planned without index %s:\n%s", q, index, plan)
			}
			if strings.Contains(plan, "Sort") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%s is planned with a sort:\n%s", q, plan)
			}
		}
		// A system column keeps the default order, which the ORDER BY of
		// records (no NULLS clause for never-null keys) asks for.
		q := `SELECT t."id" FROM "c_posts" t ORDER BY t."created" DESC, t."id" DESC LIMIT 21`
		if plan := explain(t, e, q); strings.Contains(plan, "Sort") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s is planned with a sort:\n%s", q, plan)
		}
	})
}

// explain returns the plan of q: EXPLAIN with sequential scans off on
// PostgreSQL (the table is small), EXPLAIN QUERY PLAN on SQLite.
func explain(t *testing.T, e *env, q string, args ...any) string {
	t.Helper()
	tx, err := e.db.SQL().BeginTx(e.ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	var lines []string
	if e.db.Dialect() == store.Postgres {
		if _, err := tx.ExecContext(e.ctx(), "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.QueryContext(e.ctx(), "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	rows, err := tx.QueryContext(e.ctx(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestOldStyleIndexIsDropped: a declared index made before id was appended
// (same name, declared columns only) is still dropped by a migration that
// removes the declaration, so its column can go too.
func TestOldStyleIndexIsDropped(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		posts := e.create(schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "views", Type: schema.Number},
			{Name: "title", Type: schema.Text},
		}, Indexes: [][]string{{"views"}}})
		name := posts.TableIndexes()[0].Name
		for _, q := range []string{`DROP INDEX "` + name + `"`, `CREATE INDEX "` + name + `" ON "c_posts" ("views")`} {
			if _, err := e.db.SQL().ExecContext(e.ctx(), q); err != nil {
				t.Fatal(err)
			}
		}
		checkIndexes(t, e, "posts", []string{"views"})
		c := e.edit("posts")
		c.Indexes = nil
		c.Fields = c.Fields[1:]
		e.update("posts", c)
		checkIndexes(t, e, "posts", nil)
	})
}
