package schema_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// sqliteKeywords are SQLite's keywords (https://sqlite.org/lang_keywords.html).
const sqliteKeywords = `abort action add after all alter always analyze and as asc attach autoincrement before begin
between by cascade case cast check collate column commit conflict constraint create cross current current_date
current_time current_timestamp database default deferrable deferred delete desc detach distinct do drop each else
end escape except exclude exclusive exists explain fail filter first following for foreign from full generated
glob group groups having if ignore immediate in index indexed initially inner insert instead intersect into is
isnull join key last left like limit match materialized natural no not nothing notnull null nulls of offset on or
order others outer over partition plan pragma preceding primary query raise range recursive references regexp
reindex release rename replace restrict returning right rollback row rows savepoint select set table temp temporary
then ties to transaction trigger unbounded union unique update using vacuum values view virtual when where window
with without rowid oid _rowid_ true false`

// TestReservedWords: every SQL keyword that IsReserved lets through works
// as a bare column name in each kind of statement the content service
// writes, on this dialect (PostgreSQL's keywords come from the server).
func TestReservedWords(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		words := strings.Fields(sqliteKeywords)
		if e.db.Dialect() == store.Postgres {
			words = append(words, e.strings("SELECT word FROM pg_get_keywords()")...)
		}
		seen := map[string]bool{}
		var allowed []string
		for _, w := range words {
			if !seen[w] && !schema.IsReserved(w) && schema.ValidName(w) {
				seen[w] = true
				allowed = append(allowed, w)
			}
		}
		if len(allowed) < 50 {
			t.Fatalf("only %d keywords to try", len(allowed))
		}
		// All words at once first (fast); word by word only to name the
		// culprit.
		if err := tryColumns(e.ctx(), e.db.SQL(), allowed); err == nil {
			return
		}
		for _, w := range allowed {
			if err := tryColumns(e.ctx(), e.db.SQL(), []string{w}); err != nil {
				t.Errorf("%q is allowed but fails: %v", w, err)
			}
		}
	})
}

// tryColumns runs, in a transaction it rolls back, the statements of the
// content service with words as bare column names.
func tryColumns(ctx context.Context, db *sql.DB, words []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	bare := strings.Join(words, ", ")
	var defs, quals, sets, conds, vals []string
	for _, w := range words {
		defs = append(defs, w+" TEXT")
		quals = append(quals, "t."+w)
		sets = append(sets, w+" = 'c'")
		conds = append(conds, "t."+w+" = 'b' AND u."+w+" = t."+w)
		vals = append(vals, "'b'")
	}
	stmts := []string{
		"CREATE TABLE kw_t (id TEXT, " + strings.Join(defs, ", ") + ")",
		"INSERT INTO kw_t (id, " + bare + ") VALUES ('a', " + strings.Join(vals, ", ") + ")",
		"SELECT id, " + bare + " FROM kw_t",
		"SELECT t.id, " + strings.Join(quals, ", ") + " FROM kw_t t WHERE EXISTS (SELECT 1 FROM kw_t u WHERE " +
			strings.Join(conds, " AND ") + ") ORDER BY " + strings.Join(quals, " DESC, ") + " DESC",
		"UPDATE kw_t SET " + strings.Join(sets, ", ") + " WHERE id IS NOT NULL",
	}
	for i := 0; i < len(words); i += 30 {
		chunk := words[i:min(i+30, len(words))]
		stmts = append(stmts, "CREATE INDEX kw_i_"+chunk[0]+" ON kw_t ("+strings.Join(chunk, ", ")+")")
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
