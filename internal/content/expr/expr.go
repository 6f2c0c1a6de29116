package expr

import "fmt"

// DateLayout is how dates are written in records and events (UTC,
// milliseconds, fixed width so that text order is time order). SQLite
// stores dates as this text; PostgreSQL as timestamptz.
const DateLayout = "2006-01-02T15:04:05.000Z"

// Node is a parsed expression. A nil Node (the empty expression) is true.
type Node interface {
	// String renders the expression in canonical form; Parse(n.String())
	// gives an equal Node.
	String() string
}

// Error is a syntax, name or type error at a byte offset of the source.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("filter: at %d: %s", e.Pos, e.Msg) }

// Kind is the type of a field as the language sees it.
type Kind int

// The kinds of field.
const (
	KindText Kind = iota
	KindNumber
	KindBool
	KindDate
	KindJSON
)

// Field is what a field name means to the compiler.
type Field struct {
	Column string // column in the collection's table
	Kind   Kind   // for a relation: KindText (the ids)
	Multi  bool   // a JSON array of values (multi select, multi relation): the column holds an array or NULL, never JSON null; only KindText
	Target string // relation: the target collection; "" otherwise
}

// Schema resolves names. System fields (id, created, updated, version)
// are fields like any other.
type Schema interface {
	Field(collection, name string) (Field, bool)
	Table(collection string) (string, bool)
}

// Auth is what @request.auth.<key> refers to: "id", "roles",
// "permissions", "email", "verified", "kind". A missing key is null; an
// anonymous caller is the empty Auth. id, email and kind are strings,
// verified a bool, roles and permissions []string or []any of strings;
// empty strings and values of another type count as null.
type Auth map[string]any

// Record is a record as Eval reads it: Value(["title"]) or, through a
// relation, Value(["author", "name"]) (a single value, or []any when the
// path passes a multi relation: one element per related record, flattened
// across several multi relations; missing related records left out).
// Values are as JSON decodes them (string, float64, bool, nil, []any,
// map[string]any); dates in DateLayout. A value of the wrong type for its
// field counts as null; ok false means null too.
type Record interface {
	Value(path []string) (any, bool)
}
