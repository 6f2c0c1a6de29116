package schema

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

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
//
// Both split text into the same words (searchText): FTS5's unicode61
// makes a word of each run of letters and digits, folding case and the
// diacritics of Latin letters ("Crème" is "creme"). PostgreSQL's parser
// would instead keep emails, URLs, hosts, paths and decimals whole and
// keep diacritics, so its column is computed from the text with
// diacritics after ASCII letters removed (normalize to NFD, drop the
// combining marks U+0300-U+036F that follow an ASCII letter, back to NFC)
// and ASCII punctuation made spaces; its parser then splits at what
// remains (spaces, and other punctuation in a database whose locale is not
// C). Search terms are folded the same way in Go (foldDiacritics). This
// needs no extension (unaccent may not be installable, and is not
// immutable), only PostgreSQL 13's normalize and a UTF-8 database; it
// about doubles the cost of indexing a text. The differences left are
// listed at CompileSearch.

// ftsTokenizer folds case and diacritics ("Café" finds "cafe").
const ftsTokenizer = "unicode61 remove_diacritics 2"

// searchText is the PostgreSQL expression turning the text expression x
// into the words to index (see above). The collations are explicit so
// that what a class means does not depend on the column's or the
// database's: under "C", [:punct:] is ASCII punctuation and A-Z ASCII.
func searchText(x string) string {
	nfd := "normalize(" + x + ", NFD) COLLATE \"C\""
	plain := "normalize(regexp_replace(" + nfd + `, E'([A-Za-z])[\\u0300-\\u036f]+', E'\\1', 'g'), NFC) COLLATE "C"`
	return "regexp_replace(" + plain + ", '[[:punct:]]+', ' ', 'g')"
}

// foldDiacritics folds a search term as searchText folds text: the
// combining marks U+0300-U+036F following an ASCII letter are removed,
// the rest kept (in NFC).
func foldDiacritics(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	afterASCIILetter := false
	for _, r := range d {
		isMark := r >= 0x300 && r <= 0x36f
		if isMark && afterASCIILetter {
			continue
		}
		if !isMark {
			afterASCIILetter = r < utf8.RuneSelf && unicode.IsLetter(r)
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

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
		text := searchText(strings.Join(parts, " || ' ' || "))
		return []string{
			"ALTER TABLE " + table + " ADD COLUMN " + quote(SearchColumn) +
				" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, " + text + ")) STORED",
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
