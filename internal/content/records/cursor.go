package records

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// rankKey is where a list keeps the rank of a row while it builds the
// page (it is not a field name, so it cannot clash with one).
const rankKey = "@rank"

// cursor is the position after a row in a list: the order it was made for
// and the row's value of every key of that order (id last) — or, when
// those would not fit in a cursor (a long text sorted on), the row's id
// only, whose values the next page reads from the row (cursorValues).
//
// A search ranked on SQLite pages by offset instead (Offset): FTS5's bm25
// weighs a term by how rare it is in the whole table, so every write moves
// the ranks, and a cursor holding the last rank found nothing after it
// once other rows were written.
type cursor struct {
	Sort   string            `json:"s"`
	Values []json.RawMessage `json:"v,omitempty"`
	ID     string            `json:"i,omitempty"`
	Offset int               `json:"o,omitempty"`
}

// offsetPaged reports whether lists in order o on dialect d page by
// offset (see cursor).
func offsetPaged(o order, d store.Dialect) bool { return d == store.SQLite && o.ranked() }

// encodeOffsetCursor returns the cursor of the page at offset off.
func encodeOffsetCursor(o order, off int) string {
	return httpx.EncodeCursor(cursor{Sort: o.sig, Offset: off})
}

// decodeOffsetCursor reads a cursor of encodeOffsetCursor for order o.
func decodeOffsetCursor(o order, s string) (int, error) {
	var c cursor
	if err := httpx.DecodeCursor(s, &c); err != nil {
		return 0, err
	}
	if c.Sort != o.sig || c.Offset <= 0 || len(c.Values) > 0 || c.ID != "" {
		return 0, invalidCursor(errors.New("the cursor was made for another sort"))
	}
	return c.Offset, nil
}

// encodeCursor returns the cursor after rec in order o.
func encodeCursor(o order, rec Record) (string, error) {
	c := cursor{Sort: o.sig, Values: make([]json.RawMessage, len(o.keys))}
	for i, k := range o.keys {
		name := rankKey
		if k.col != nil {
			name = k.col.name
		}
		b, err := json.Marshal(rec[name])
		if err != nil {
			return "", err
		}
		c.Values[i] = b
	}
	if j, err := json.Marshal(c); err != nil {
		return "", err
	} else if base64.RawURLEncoding.EncodedLen(len(j)) > httpx.MaxCursorLen {
		if o.ranked() {
			return "", errors.New("a ranked order's cursor too long to encode")
		}
		id, _ := rec[fID].(string)
		c = cursor{Sort: o.sig, ID: id}
	}
	return httpx.EncodeCursor(c), nil
}

// decodeCursor reads a cursor made for order o and returns its values as
// query arguments for dialect d (nil for nulls), or the id of the row
// whose values they are (see cursor). A cursor of another order, or with
// values of the wrong type, is an invalid cursor error.
func decodeCursor(o order, s string, d store.Dialect) (vals []any, id string, err error) {
	var c cursor
	if err := httpx.DecodeCursor(s, &c); err != nil {
		return nil, "", err
	}
	if c.Sort == o.sig && len(c.Values) == 0 && c.ID != "" && !o.ranked() {
		if !storable(c.ID) {
			return nil, "", invalidCursor(errors.New("not an id"))
		}
		return nil, c.ID, nil
	}
	if c.Sort != o.sig || len(c.Values) != len(o.keys) {
		return nil, "", invalidCursor(errors.New("the cursor was made for another sort"))
	}
	vals = make([]any, len(o.keys))
	for i, k := range o.keys {
		v, err := k.bind(c.Values[i], d)
		if err != nil {
			return nil, "", invalidCursor(err)
		}
		vals[i] = v
	}
	return vals, "", nil
}

// bind converts the JSON value of key k in a cursor to a query argument.
func (k sortKey) bind(raw json.RawMessage, d store.Dialect) (any, error) {
	if string(raw) == "null" {
		if !k.nullable {
			return nil, errors.New("null for a field that is never null")
		}
		return nil, nil
	}
	switch k.kind {
	case kInt:
		return strconv.ParseInt(string(raw), 10, 64)
	case kFloat, kRank:
		var f float64
		err := json.Unmarshal(raw, &f)
		return f, err
	case kBool:
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if !storable(s) {
		return nil, errors.New("not a text the database stores")
	}
	if k.kind != kDate {
		return s, nil
	}
	t, err := time.Parse(expr.DateLayout, s)
	if err != nil {
		return nil, err
	}
	if d == store.Postgres {
		return t, nil
	}
	return t.Format(expr.DateLayout), nil
}
