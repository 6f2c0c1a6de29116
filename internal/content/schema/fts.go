package schema

import (
	"context"
	"fmt"
	"strconv"
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
//     twice), kept in step by three triggers, ranked with bm25. Inserted
//     rows enter it once per transaction, not one by one (IndexPending).
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

// pendingTable is the SQLite table of the rows inserted that c_N_fts does
// not hold yet: those of the current transaction (IndexPending), those
// committed since the Indexer's last pass, and rows inserted by other
// means than bam, which Registry.PrepareSearch indexes at start. Its name
// holds "_fts_", which collection names may not.
func pendingTable(collection string) string { return FTSTable(collection) + "_new" }

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
	stmts := []string{"CREATE VIRTUAL TABLE " + fts + " USING fts5(" + quoteAll(fields) + ", content='" + Table(c.Name) +
		"', content_rowid='" + RowIDColumn + "', tokenize='" + ftsTokenizer + "')"}
	stmts = append(stmts, createTriggers(c)...)
	return append(stmts, "INSERT INTO "+fts+" ("+fts+") VALUES ('rebuild')")
}

// createTriggers returns the statements creating c's pending table and the
// triggers keeping c_N_fts in step (SQLite). Each statement that writes to
// an FTS5 table in a transaction makes it flush what it holds in memory to
// a new segment on disk (its savepoint), so an insert only notes its row
// in the pending table, and IndexPending (before the transaction commits)
// or an Indexer (later, for many transactions at once) indexes the
// pending rows with one statement. An update or a delete of a row
// still pending leaves the index alone (the row is not in it: the flush
// reads the row as it is then, a deleted row leaves the pending table);
// of any other row it updates the index at once.
func createTriggers(c *Collection) []string {
	fields := c.SearchFields()
	table := quote(Table(c.Name))
	fts := quote(FTSTable(c.Name))
	pending := quote(pendingTable(c.Name))
	cols := quoteAll(fields)
	rid := quote(RowIDColumn)
	notPending := func(row string) string {
		return " WHERE NOT EXISTS (SELECT 1 FROM " + pending + " WHERE rid = " + row + "." + rid + ");"
	}
	remove := "INSERT INTO " + fts + " (" + fts + ", rowid, " + cols + ") SELECT 'delete', old." + rid + ", " +
		prefixed("old.", fields) + notPending("old")
	insert := "INSERT INTO " + fts + " (rowid, " + cols + ") SELECT new." + rid + ", " + prefixed("new.", fields) + notPending("new")
	ins, del, upd := triggerNames(c.Name)
	return []string{
		"CREATE TABLE " + pending + " (rid INTEGER PRIMARY KEY)",
		"CREATE TRIGGER " + quote(ins) + " AFTER INSERT ON " + table + " BEGIN INSERT INTO " + pending + " (rid) VALUES (new." + rid + "); END",
		"CREATE TRIGGER " + quote(del) + " AFTER DELETE ON " + table + " BEGIN " + remove +
			" DELETE FROM " + pending + " WHERE rid = old." + rid + "; END",
		"CREATE TRIGGER " + quote(upd) + " AFTER UPDATE OF " + cols + " ON " + table + " BEGIN " + remove + " " + insert + " END",
	}
}

// dropTriggers returns the statements dropping what createTriggers made.
func dropTriggers(collection string) []string {
	ins, del, upd := triggerNames(collection)
	return []string{
		"DROP TRIGGER IF EXISTS " + quote(ins),
		"DROP TRIGGER IF EXISTS " + quote(del),
		"DROP TRIGGER IF EXISTS " + quote(upd),
		"DROP TABLE IF EXISTS " + quote(pendingTable(collection)),
	}
}

// IndexPending makes tx, before it commits, index the rows of collection
// c that it inserted (SQLite; nothing to do on PostgreSQL, whose search
// column is computed by the insert), and any row still pending from an
// earlier transaction. Call it from every write that inserts into a
// collection's table, or let an Indexer do it later (Indexer.Inserted):
// the first call of a transaction for c registers the work, the others
// are free.
func IndexPending(tx *store.Tx, c *Collection) {
	if tx.Dialect() != store.SQLite {
		return
	}
	name := c.Name
	tx.BeforeCommit("schema.IndexPending "+name, func(ctx context.Context) error {
		_, err := indexPending(ctx, tx, name, 0)
		return err
	})
}

// indexPending moves up to limit rows (every row if limit is 0) of
// collection's pending table, in rowid order, into its full-text index in
// tx, with one statement (one FTS5 segment), and returns how many it
// moved. The columns indexed are read from the database, not from the
// collection's definition, which may be older than the table.
func indexPending(ctx context.Context, tx *store.Tx, collection string, limit int) (int64, error) {
	cols, err := ftsColumns(ctx, tx, collection)
	if err != nil || len(cols) == 0 { // not searchable (any more)
		return 0, err
	}
	pending := "SELECT rid FROM " + quote(pendingTable(collection)) + " ORDER BY rid"
	if limit > 0 {
		pending += " LIMIT " + strconv.Itoa(limit)
	}
	// CROSS JOIN keeps this order (SQLite's planner, with no statistics,
	// may scan the table instead): each pending row, then its record by
	// rowid. The write lock is held: both statements see the same rows.
	rid := quote(RowIDColumn)
	insert := "INSERT INTO " + quote(FTSTable(collection)) + " (rowid, " + quoteAll(cols) + ") SELECT t." + rid + ", " +
		prefixed("t.", cols) + " FROM (" + pending + ") p CROSS JOIN " + quote(Table(collection)) + " t WHERE t." + rid + " = p.rid"
	if _, err := tx.ExecContext(ctx, insert); err != nil {
		return 0, fmt.Errorf("schema: indexing %s: %w", collection, err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM "+quote(pendingTable(collection))+" WHERE rid IN ("+pending+")")
	if err != nil {
		return 0, fmt.Errorf("schema: indexing %s: %w", collection, err)
	}
	return res.RowsAffected()
}

// PrepareSearch readies the full-text objects of the searchable
// collections (SQLite; call it at start, after Load, outside any
// transaction): those made before inserts were indexed once per
// transaction (see createTriggers) get their pending table and today's
// triggers (their index is complete: nothing is reindexed), and rows
// inserted by other means than bam, which wait in the pending table, are
// indexed. It writes only for a collection that needs it.
func (r *Registry) PrepareSearch(ctx context.Context) error {
	if r.db.Dialect() != store.SQLite {
		return nil
	}
	for _, c := range r.All() {
		if !c.Searchable() {
			continue
		}
		old, pending, err := r.searchState(ctx, c)
		if err == nil && (old || pending) {
			err = r.db.InTx(ctx, func(tx *store.Tx) error {
				if old {
					if err := exec(ctx, tx, append(dropTriggers(c.Name), createTriggers(c)...)); err != nil {
						return err
					}
				}
				IndexPending(tx, c)
				return nil
			})
		}
		if err != nil {
			return fmt.Errorf("schema: search objects of %s: %w", c.Name, err)
		}
	}
	return nil
}

// searchState reads whether c's search objects are older than its
// pending table, and whether rows wait in that table.
func (r *Registry) searchState(ctx context.Context, c *Collection) (old, pending bool, err error) {
	q := r.db.SQL()
	var n int
	err = q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1", pendingTable(c.Name)).Scan(&n)
	if err != nil || n == 0 {
		return err == nil, false, err
	}
	err = q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(pendingTable(c.Name))+")").Scan(&pending)
	return false, pending, err
}

// ftsColumns returns the columns of collection's FTS5 table, none if it
// has none.
func ftsColumns(ctx context.Context, q store.Querier, collection string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT name FROM pragma_table_info($1) ORDER BY cid", FTSTable(collection))
	if err != nil {
		return nil, fmt.Errorf("schema: columns of %s: %w", FTSTable(collection), err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
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
	return append(dropTriggers(c.Name), "DROP TABLE IF EXISTS "+quote(FTSTable(c.Name)))
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
