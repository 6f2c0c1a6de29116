package schema

import (
	"encoding/json"
	"fmt"
)

// Columns lists the collection's columns: the system columns (id,
// created, updated, version) first, then one per field in definition
// order. Select these explicitly: tables also hold internal columns
// (RowIDColumn on SQLite, SearchColumn on PostgreSQL).
func (c *Collection) Columns() []string {
	out := make([]string, 0, len(SystemFields)+len(c.Fields))
	out = append(out, SystemFields...)
	for _, f := range c.Fields {
		out = append(out, f.Name)
	}
	return out
}

// Decode converts a scanned column value of field name to its JSON value
// (dates in expr.DateLayout, multi values as []any, bools as bool).
// Numbers, version included, decode to float64 (integer fields hold at most
// 2^53-1, so exactly); NULL decodes to nil.
func (c *Collection) Decode(name string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch name {
	case FieldID:
		return decodeString(name, v)
	case FieldCreated, FieldUpdated:
		return decodeDate(name, v)
	case FieldVersion:
		return decodeNumber(name, v)
	}
	f, ok := c.Field(name)
	if !ok {
		return nil, fmt.Errorf("schema: %s has no field %q", c.Name, name)
	}
	switch {
	case f.IsJSON():
		return decodeJSON(name, v)
	case f.Type == Number:
		return decodeNumber(name, v)
	case f.Type == Bool:
		return decodeBool(name, v)
	case f.Type == Date:
		return decodeDate(name, v)
	}
	return decodeString(name, v)
}

func decodeString(name string, v any) (any, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	}
	return nil, typeError(name, "text", v)
}

func decodeDate(name string, v any) (any, error) {
	s, err := dateText(v)
	if err != nil {
		return nil, fmt.Errorf("schema: field %s: %w", name, err)
	}
	return s, nil
}

func decodeNumber(name string, v any) (any, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case int64:
		return float64(n), nil
	case int32:
		return float64(n), nil
	case int:
		return float64(n), nil
	case float32:
		return float64(n), nil
	}
	return nil, typeError(name, "number", v)
}

func decodeBool(name string, v any) (any, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case int64: // SQLite
		return b != 0, nil
	}
	return nil, typeError(name, "bool", v)
}

func decodeJSON(name string, v any) (any, error) {
	var raw []byte
	switch t := v.(type) {
	case string: // SQLite text
		raw = []byte(t)
	case []byte: // PostgreSQL jsonb
		raw = t
	case map[string]any, []any, float64, bool:
		return t, nil // decoded by the driver already
	default:
		return nil, typeError(name, "JSON", v)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("schema: field %s: stored JSON: %w", name, err)
	}
	return out, nil
}

func typeError(name, want string, v any) error {
	return fmt.Errorf("schema: field %s: want %s, scanned %T", name, want, v)
}
