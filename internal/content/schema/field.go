package schema

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

// The system fields every collection has, in table order.
const (
	FieldID      = "id"
	FieldCreated = "created"
	FieldUpdated = "updated"
	FieldVersion = "version"
)

// SystemFields lists the system fields in table order.
var SystemFields = []string{FieldID, FieldCreated, FieldUpdated, FieldVersion}

// IsSystem reports whether name is a system field.
func IsSystem(name string) bool {
	switch name {
	case FieldID, FieldCreated, FieldUpdated, FieldVersion:
		return true
	}
	return false
}

// The onDelete actions of relation fields.
const (
	Restrict = "restrict"
	Cascade  = "cascade"
	SetNull  = "set_null"
)

// The onUserDeleted settings of collections.
const (
	DeleteOwned    = "delete"
	AnonymizeOwned = "anonymize"
)

// Limits of definitions and values. Text without a max is capped at
// DefaultTextMax characters; lists at MaxListLength elements.
const (
	MaxFields        = 200
	MaxIndexes       = 32
	MaxIndexColumns  = 8
	MaxSelectValues  = 200
	MaxSelectValue   = 100       // characters of one select value
	MaxTextMax       = 1_000_000 // the largest max a text field may declare
	DefaultTextMax   = 100_000   // characters of a text value when the field sets no max
	MaxListLength    = 1000      // elements of a multi value
	MaxJSONBytes     = 64 << 10  // encoded size of a json value
	MaxJSONDepth     = 64        // nesting of arrays and objects in a json value
	MaxRuleLength    = 4096
	MaxPatternLength = 1000
	MaxEmailLength   = 254
	MaxURLLength     = 2048
	MaxRefLength     = 1024 // relation ids and file references
	maxSafeInteger   = 1<<53 - 1
)

// IsMulti reports whether the field holds a list (stored as a JSON array).
func (f *Field) IsMulti() bool {
	return f.Multi && (f.Type == Select || f.Type == Relation || f.Type == File)
}

// stringLike reports whether single values of the field are strings.
func (f *Field) stringLike() bool {
	switch f.Type {
	case Text, Email, URL, Select, Relation, File, Owner:
		return true
	}
	return false
}

// IsJSON reports whether the column holds JSON: json fields and every
// multi field.
func (f *Field) IsJSON() bool { return f.Type == JSON || f.IsMulti() }

// Kind is the field's kind in the expression language.
func (f *Field) Kind() expr.Kind {
	switch f.Type {
	case Number:
		return expr.KindNumber
	case Bool:
		return expr.KindBool
	case Date:
		return expr.KindDate
	case JSON:
		return expr.KindJSON
	}
	return expr.KindText
}

// exprField describes f to the expression compiler.
func (f *Field) exprField() expr.Field {
	ef := expr.Field{Column: f.Name, Kind: f.Kind(), Multi: f.IsMulti()}
	if f.Type == Relation {
		ef.Target = f.Collection
	}
	return ef
}

// systemField describes a system field to the expression compiler.
func systemField(name string) (expr.Field, bool) {
	switch name {
	case FieldID:
		return expr.Field{Column: FieldID, Kind: expr.KindText}, true
	case FieldCreated, FieldUpdated:
		return expr.Field{Column: name, Kind: expr.KindDate}, true
	case FieldVersion:
		return expr.Field{Column: FieldVersion, Kind: expr.KindNumber}, true
	}
	return expr.Field{}, false
}

// columnType is the SQL type of the field's column in dialect d.
func columnType(f *Field, d store.Dialect) string {
	pg := d == store.Postgres
	switch {
	case f.IsJSON():
		if pg {
			return "JSONB"
		}
		return "TEXT"
	case f.Type == Number && f.Integer:
		if pg {
			return "BIGINT"
		}
		return "INTEGER"
	case f.Type == Number:
		if pg {
			return "DOUBLE PRECISION"
		}
		return "REAL"
	case f.Type == Bool:
		if pg {
			return "BOOLEAN"
		}
		return "INTEGER"
	case f.Type == Date:
		if pg {
			return "TIMESTAMPTZ"
		}
		return "TEXT"
	}
	return textType(d)
}

// textType is the type of text columns: on PostgreSQL with the "C"
// collation, whatever the database's, so that text sorts in byte order as
// in SQLite and so that filters, which compare text under "C", can use
// the column's indexes.
func textType(d store.Dialect) string {
	if d == store.Postgres {
		return `TEXT COLLATE "C"`
	}
	return "TEXT"
}

// Field returns the field of c named name.
func (c *Collection) Field(name string) (*Field, bool) {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i], true
		}
	}
	return nil, false
}

// FieldsOf returns the fields of c of type t, in definition order.
func (c *Collection) FieldsOf(t Type) []*Field {
	var out []*Field
	for i := range c.Fields {
		if c.Fields[i].Type == t {
			out = append(out, &c.Fields[i])
		}
	}
	return out
}

// SearchFields lists the names of the searchable fields, in definition
// order; empty when the collection has no full-text search.
func (c *Collection) SearchFields() []string {
	var out []string
	for _, f := range c.Fields {
		if f.Searchable {
			out = append(out, f.Name)
		}
	}
	return out
}

// Searchable reports whether the collection has full-text search.
func (c *Collection) Searchable() bool { return len(c.SearchFields()) > 0 }

// newID returns a random identifier for a field or a collection.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// clone returns a deep copy of c, so a stored definition never shares
// slices with a caller's.
func (c *Collection) clone() *Collection {
	n := *c
	n.Fields = make([]Field, len(c.Fields))
	for i, f := range c.Fields {
		f.Values = append([]string(nil), f.Values...)
		f.Min = clonePtr(f.Min)
		f.Max = clonePtr(f.Max)
		n.Fields[i] = f
	}
	n.Indexes = make([][]string, len(c.Indexes))
	for i, ix := range c.Indexes {
		n.Indexes[i] = append([]string(nil), ix...)
	}
	n.Rules = Rules{clonePtr(c.Rules.List), clonePtr(c.Rules.View), clonePtr(c.Rules.Create), clonePtr(c.Rules.Update), clonePtr(c.Rules.Delete)}
	return &n
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
