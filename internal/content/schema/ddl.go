package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/bamhq/bam/internal/store"
)

// RowIDColumn is the SQLite column that the full-text index refers to rows
// by: an INTEGER PRIMARY KEY, so that VACUUM cannot renumber rows under the
// index. It is internal: select Columns(), never *.
const RowIDColumn = "_rid"

// SearchColumn is the PostgreSQL generated tsvector column of searchable
// collections. Internal like RowIDColumn.
const SearchColumn = "_search"

// FTSTable is the SQLite FTS5 table of a searchable collection.
func FTSTable(collection string) string { return Table(collection) + "_fts" }

// quote quotes an identifier for both dialects. Names are validated
// ([a-z][a-z0-9_]*), so there is nothing to escape.
func quote(name string) string { return `"` + name + `"` }

// Index is an index of a collection's table, as the definition asks for
// it: an entry of Indexes, a unique field, or the lookup index every
// single relation and owner field gets.
//
// An entry of Indexes is made to serve the orders lists sort by (field
// keys NULLS FIRST ascending, NULLS LAST descending, then id in the
// direction of the key before it): its columns end with id (appended
// unless declared), and on PostgreSQL, whose indexes sort NULLs last
// ascending, its field columns are NULLS FIRST. SQLite sorts NULLs first
// natively (and rejects NULLS FIRST in CREATE INDEX). System columns are
// never null and keep the default, which the ORDER BY of lists, having no
// NULLS clause for them, asks for.
type Index struct {
	Name    string // deterministic: i_<collection>_<hash of kind and declared columns>
	Columns []string
	Unique  bool
	Sorted  bool // an entry of Indexes: id last, NULLS FIRST on PostgreSQL
}

// indexName names an index after what it is, so that comparing the names
// of two definitions' indexes tells what changed. The fixed-length hash
// suffix keeps names of different collections apart ("i_a_b_<h>" cannot be
// an index of collection "a" whose suffix would be "b_<h>").
func indexName(collection string, unique bool, cols []string) string {
	kind := "i:"
	if unique {
		kind = "u:"
	}
	sum := sha256.Sum256([]byte(kind + strings.Join(cols, ",")))
	return "i_" + collection + "_" + hex.EncodeToString(sum[:4])
}

// searchIndexName is the PostgreSQL GIN index over SearchColumn.
func searchIndexName(collection string) string { return "i_" + collection + "_search" }

// TableIndexes lists the indexes of c's table (not counting the primary key and
// full-text objects), without duplicates, ordered by name.
func (c *Collection) TableIndexes() []Index {
	byName := map[string]Index{}
	add := func(ix Index) {
		byName[ix.Name] = ix
	}
	for _, cols := range c.Indexes {
		// Named after the declared columns, as before id was appended:
		// tables made earlier keep their index under the same name, so a
		// migration that drops the declaration drops it.
		n := indexName(c.Name, false, cols)
		if !slices.Contains(cols, FieldID) {
			cols = append(slices.Clip(cols), FieldID)
		}
		add(Index{Name: n, Columns: cols, Sorted: true})
	}
	for _, f := range c.Fields {
		if f.Unique {
			add(Index{Name: indexName(c.Name, true, []string{f.Name}), Columns: []string{f.Name}, Unique: true})
		}
	}
	// A single relation or owner column is looked up by value (on-delete
	// actions, owner rules, forgetting a user): index it unless another
	// index starts with it.
	leading := map[string]bool{}
	for _, ix := range byName {
		if len(ix.Columns) > 0 {
			leading[ix.Columns[0]] = true
		}
	}
	for _, f := range c.Fields {
		if (f.Type == Relation || f.Type == Owner) && !f.IsMulti() && !leading[f.Name] {
			cols := []string{f.Name}
			add(Index{Name: indexName(c.Name, false, cols), Columns: cols})
		}
	}
	out := slices.Collect(maps.Values(byName))
	slices.SortFunc(out, func(a, b Index) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DDL returns the statements that create c's table, indexes and full-text
// objects in dialect d.
func (c *Collection) DDL(d store.Dialect) []string {
	stmts := []string{createTable(c, d)}
	for _, ix := range c.TableIndexes() {
		stmts = append(stmts, createIndex(c.Name, ix, d))
	}
	return append(stmts, createSearch(c, d)...)
}

// DropDDL returns the statements that drop c's table with everything
// attached to it.
func (c *Collection) DropDDL(d store.Dialect) []string {
	return append(dropSearch(c, d), "DROP TABLE IF EXISTS "+quote(Table(c.Name)))
}

func createTable(c *Collection, d store.Dialect) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + quote(Table(c.Name)) + " (")
	if d == store.Postgres {
		// The primary key's index is named p_<collection>: the default,
		// c_<collection>_pkey, is a name collection "<collection>_pkey"
		// would want for its table.
		b.WriteString(`"id" ` + textType(d) + ` CONSTRAINT ` + quote("p_"+c.Name) + ` PRIMARY KEY, "created" TIMESTAMPTZ NOT NULL, "updated" TIMESTAMPTZ NOT NULL, "version" BIGINT NOT NULL`)
	} else {
		b.WriteString(quote(RowIDColumn) + ` INTEGER PRIMARY KEY, "id" TEXT NOT NULL UNIQUE, "created" TEXT NOT NULL, "updated" TEXT NOT NULL, "version" INTEGER NOT NULL`)
	}
	for i := range c.Fields {
		b.WriteString(", " + columnDef(&c.Fields[i], d))
	}
	b.WriteString(")")
	if d == store.SQLite {
		b.WriteString(" STRICT") // a value of the wrong type is an error, not silently kept
	}
	return b.String()
}

func columnDef(f *Field, d store.Dialect) string { return quote(f.Name) + " " + columnType(f, d) }

// createIndex is the statement that creates ix in dialect d.
func createIndex(collection string, ix Index, d store.Dialect) string {
	cols := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		cols[i] = quote(c)
		if ix.Sorted && d == store.Postgres && !IsSystem(c) {
			cols[i] += " NULLS FIRST"
		}
	}
	u := ""
	if ix.Unique {
		u = "UNIQUE "
	}
	return "CREATE " + u + "INDEX " + quote(ix.Name) + " ON " + quote(Table(collection)) + " (" + strings.Join(cols, ", ") + ")"
}

func dropIndex(name string) string { return "DROP INDEX IF EXISTS " + quote(name) }
