package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// TestTextCollation: text sorts in byte order on both dialects whatever
// the database's locale, and a filter's text comparison (under "C") can
// use an index declared on the field.
func TestTextCollation(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{
			{Name: "title", Type: schema.Text},
			{Name: "kind", Type: schema.Select, Values: []string{"a", "B"}},
		}, Indexes: [][]string{{"title"}}})
		titles := []string{"b", "B", "a", "A", "_x", "Zeta", "zeta", "é", "É", "e", "1", "ä", "Ab", "aB", " space"}
		for _, title := range titles {
			e.insert(docs, map[string]any{"title": title}, "")
		}
		want := slices.Clone(titles)
		slices.Sort(want) // byte order
		if got := e.ordered(`SELECT title FROM c_docs ORDER BY title`); !slices.Equal(got, want) {
			t.Errorf("ORDER BY title = %q, want byte order %q", got, want)
		}
		next := e.edit("docs")
		next.Fields = append(next.Fields, schema.Field{Name: "added", Type: schema.Text})
		e.update("docs", next)
		if e.db.Dialect() != store.Postgres {
			return
		}
		for _, col := range []string{"id", "title", "kind", "added"} {
			var collation string
			err := e.db.SQL().QueryRowContext(e.ctx(), `SELECT coalesce(collation_name, '') FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = 'c_docs' AND column_name = $1`, col).Scan(&collation)
			if err != nil || collation != "C" {
				t.Errorf("column %s: collation %q (%v), want C", col, collation, err)
			}
		}
		// The plan of a filter on title uses its index.
		n, err := expr.Parse(`title > "M"`)
		if err != nil {
			t.Fatal(err)
		}
		cond, args, err := expr.SQL(n, e.reg, "docs", store.Postgres, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := e.db.SQL().BeginTx(e.ctx(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(e.ctx(), "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.QueryContext(e.ctx(), `EXPLAIN SELECT t.id FROM c_docs AS "t" WHERE `+cond, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		index := docs.TableIndexes()[0].Name
		if p := strings.Join(plan, "\n"); !strings.Contains(p, "Index") || !strings.Contains(p, index) {
			t.Errorf("%s is planned without index %s:\n%s", cond, index, p)
		}
	})
}
