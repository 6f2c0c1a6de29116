// Package schema is the model of collections: their fields, indexes and
// rules, how a definition is validated, the tables and indexes that hold
// each collection in SQLite and PostgreSQL, the safe migration from one
// definition to the next, and the conversion of record values between JSON
// and columns.
//
// Storage: collection N lives in table c_N (Table) with the system columns
// id, created, updated, version, then one column per field, named after
// it (ValidName: [a-z][a-z0-9_]*, not a system field, not an SQL keyword
// either dialect reserves, so a name is safe in SQL quoted or not). Types
// per dialect are in columnType; multi and json fields hold JSON; text
// columns on PostgreSQL have the "C" collation (byte order, as SQLite). Absent
// values, empty strings and empty lists are NULL. SQLite tables are STRICT
// and also have the internal INTEGER PRIMARY KEY RowIDColumn; PostgreSQL
// tables of searchable collections have the internal SearchColumn. Select
// Columns(), never *.
//
// The Registry keeps the definitions in the catalogue table
// content_collections (Migrations), changes tables in the caller's
// transaction (on PostgreSQL waiting at most LockTimeout for a lock), and
// publishes immutable Snapshots to lock-free readers when that
// transaction commits. Both implement expr.Schema for every caller alike;
// GuardedBy wraps one with what a caller may view, so that the caller's
// filters read through relations only records it may view.
//
// Text values are stored in Unicode NFC. Full-text search splits text
// into the same words on both dialects (CompileSearch).
package schema

// Type is a field type.
type Type string

// The field types.
const (
	Text     Type = "text"
	Number   Type = "number"
	Bool     Type = "bool"
	Date     Type = "date"
	Email    Type = "email"
	URL      Type = "url"
	Select   Type = "select"
	JSON     Type = "json"
	Relation Type = "relation"
	File     Type = "file"
	Owner    Type = "owner"
)

// Field is one field of a collection, as the API reads and writes it.
type Field struct {
	ID         string   `json:"id,omitempty"` // stable across renames; assigned by the server
	Name       string   `json:"name"`
	Type       Type     `json:"type"`
	Required   bool     `json:"required,omitempty"`
	Unique     bool     `json:"unique,omitempty"`
	Searchable bool     `json:"searchable,omitempty"` // text fields in full-text search
	Min        *float64 `json:"min,omitempty"`        // text: length; number: value; multi: count
	Max        *float64 `json:"max,omitempty"`
	Pattern    string   `json:"pattern,omitempty"`    // text: RE2, whole value
	Integer    bool     `json:"integer,omitempty"`    // number: whole numbers only
	Values     []string `json:"values,omitempty"`     // select: allowed values
	Multi      bool     `json:"multi,omitempty"`      // select, relation, file: a list
	Collection string   `json:"collection,omitempty"` // relation: target collection
	OnDelete   string   `json:"onDelete,omitempty"`   // relation: cascade | set_null | restrict (default restrict)
}

// Rules are a collection's access rules: nil means admins only, "" means
// everyone.
type Rules struct {
	List   *string `json:"list"`
	View   *string `json:"view"`
	Create *string `json:"create"`
	Update *string `json:"update"`
	Delete *string `json:"delete"`
}

// Collection is a collection definition.
type Collection struct {
	ID      string     `json:"id,omitempty"`
	Name    string     `json:"name"`
	Fields  []Field    `json:"fields"`
	Indexes [][]string `json:"indexes,omitempty"`
	Rules   Rules      `json:"rules"`
	// Sensitive collections publish events without record data.
	Sensitive bool `json:"sensitive,omitempty"`
	// OnUserDeleted is what happens to records whose owner field is a
	// deleted user: "delete" (default) or "anonymize" (owner set null).
	OnUserDeleted string `json:"onUserDeleted,omitempty"`
	Created       string `json:"created,omitempty"`
	Updated       string `json:"updated,omitempty"`
	Version       int64  `json:"version,omitempty"`
}

// Table is the SQL table of a collection.
func Table(collection string) string { return "c_" + collection }

// Mode says how Encode treats absent fields.
type Mode int

// The modes of Encode.
const (
	Create  Mode = iota // absent: default (null); required fields must be present
	Patch               // absent: unchanged
	Replace             // absent: null; required fields must be present
)
