package schema

import (
	"strings"

	"github.com/bamhq/bam/internal/store"
)

// The full-text objects of a searchable collection:
//
//   - SQLite: an FTS5 table c_N_fts over the searchable columns whose
//     content is the collection's table (external content, nothing stored
//     twice), kept in step by three triggers, ranked with bm25.
//   - PostgreSQL: a stored generated tsvector column _search ('simple'
//     configuration: no stemming nor stop words, as in SQLite) with a GIN
//     index, ranked with ts_rank.

// ftsTokenizer folds case and diacritics ("Café" finds "cafe").
const ftsTokenizer = "unicode61 remove_diacritics 2"

// triggerNames are the SQLite triggers keeping c_N_fts in step. Their
// prefix t_ keeps them apart from tables (c_) and indexes (i_).
func triggerNames(collection string) (ins, del, upd string) {
	p := "t_" + collection + "_fts_"
	return p + "ai", p + "ad", p + "au"
}

// createSearch returns the statements creating c's full-text objects and
// indexing the rows the table already holds; none when c has no searchable
// field.
func createSearch(c *Collection, d store.Dialect) []string {
	fields := c.SearchFields()
	if len(fields) == 0 {
		return nil
	}
	table := quote(Table(c.Name))
	if d == store.Postgres {
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = "coalesce(" + quote(f) + ", '')"
		}
		return []string{
			"ALTER TABLE " + table + " ADD COLUMN " + quote(SearchColumn) +
				" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, " + strings.Join(parts, " || ' ' || ") + ")) STORED",
			"CREATE INDEX " + quote(searchIndexName(c.Name)) + " ON " + table + " USING GIN (" + quote(SearchColumn) + ")",
		}
	}
	fts := quote(FTSTable(c.Name))
	cols := quoteAll(fields)
	newVals := prefixed("new.", fields)
	oldVals := prefixed("old.", fields)
	rid := quote(RowIDColumn)
	insert := "INSERT INTO " + fts + " (rowid, " + cols + ") VALUES (new." + rid + ", " + newVals + ");"
	remove := "INSERT INTO " + fts + " (" + fts + ", rowid, " + cols + ") VALUES ('delete', old." + rid + ", " + oldVals + ");"
	ins, del, upd := triggerNames(c.Name)
	return []string{
		"CREATE VIRTUAL TABLE " + fts + " USING fts5(" + cols + ", content='" + Table(c.Name) +
			"', content_rowid='" + RowIDColumn + "', tokenize='" + ftsTokenizer + "')",
		"CREATE TRIGGER " + quote(ins) + " AFTER INSERT ON " + table + " BEGIN " + insert + " END",
		"CREATE TRIGGER " + quote(del) + " AFTER DELETE ON " + table + " BEGIN " + remove + " END",
		"CREATE TRIGGER " + quote(upd) + " AFTER UPDATE OF " + cols + " ON " + table + " BEGIN " + remove + " " + insert + " END",
		"INSERT INTO " + fts + " (" + fts + ") VALUES ('rebuild')",
	}
}

// dropSearch returns the statements dropping c's full-text objects, if
// any.
func dropSearch(c *Collection, d store.Dialect) []string {
	if !c.Searchable() {
		return nil
	}
	if d == store.Postgres {
		// The GIN index goes with the column.
		return []string{"ALTER TABLE " + quote(Table(c.Name)) + " DROP COLUMN IF EXISTS " + quote(SearchColumn)}
	}
	ins, del, upd := triggerNames(c.Name)
	return []string{
		"DROP TRIGGER IF EXISTS " + quote(ins),
		"DROP TRIGGER IF EXISTS " + quote(del),
		"DROP TRIGGER IF EXISTS " + quote(upd),
		"DROP TABLE IF EXISTS " + quote(FTSTable(c.Name)),
	}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

func prefixed(prefix string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = prefix + quote(n)
	}
	return strings.Join(q, ", ")
}
