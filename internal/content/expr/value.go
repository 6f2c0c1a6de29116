package expr

import (
	"cmp"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// The meaning of a comparison, shared by Eval and by SQL's constant
// folding. Every operand stands for a set of non-null values: none (null,
// an empty list), one (a plain field or literal), or several (a multi
// field, a path through a multi relation, a list). A comparison holds when
// some pair of values, one from each side, satisfies the operator; its
// negated forms (!= !~ !in) are the negation of that. "x = null" holds
// when x has no value.

// test applies a positive operator to the values of both sides.
func test(op cop, k Kind, l, r []any) bool {
	if op == opNull {
		return len(l) == 0
	}
	for _, a := range l {
		for _, b := range r {
			if compare(op, k, a, b) {
				return true
			}
		}
	}
	return false
}

// compare applies op to two normalised values of kind k (for KindJSON, a
// is the json value and b the text searched for).
func compare(op cop, k Kind, a, b any) bool {
	switch op {
	case opEq:
		return a == b
	case opLike:
		if k == KindJSON {
			return jsonContains(a, b.(string))
		}
		return containsFold(a.(string), b.(string))
	}
	var c int
	switch a := a.(type) {
	case string:
		c = strings.Compare(a, b.(string))
	case float64:
		c = cmp.Compare(a, b.(float64))
	default:
		return false
	}
	switch op {
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	}
	return false
}

// jsonContains reports whether some string inside the json value v (at
// any depth; object keys excluded) contains sub.
func jsonContains(v any, sub string) bool {
	switch v := v.(type) {
	case string:
		return containsFold(v, sub)
	case []any:
		for _, x := range v {
			if jsonContains(x, sub) {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if jsonContains(x, sub) {
				return true
			}
		}
	}
	return false
}

// normalise converts a record value to the form compare expects for kind
// k: string (text, and dates in DateLayout), float64, bool, or for json
// any non-nil value. ok is false for null and for values of the wrong
// type, which count as no value.
func normalise(k Kind, v any) (any, bool) {
	if v == nil {
		return nil, false
	}
	switch k {
	case KindText:
		s, ok := v.(string)
		return s, ok
	case KindNumber:
		f, ok := toFloat(v)
		return f, ok && !math.IsNaN(f)
	case KindBool:
		b, ok := v.(bool)
		return b, ok
	case KindDate:
		switch v := v.(type) {
		case string:
			if isDateLayout(v) {
				return v, true
			}
			return parseDate(v)
		case time.Time:
			return formatDate(v)
		}
		return nil, false
	}
	return v, true
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// dateLayouts are the forms a date literal may take; all without a zone
// are UTC. Fractional seconds are accepted after the seconds of any.
var dateLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// parseDate parses a date literal and returns it in DateLayout.
func parseDate(s string) (any, bool) {
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return formatDate(t)
		}
	}
	return nil, false
}

// formatDate writes t in DateLayout (UTC, truncated to milliseconds); years
// outside 1-9999 would break the text order, so they are refused.
func formatDate(t time.Time) (any, bool) {
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, false
	}
	return t.Format(DateLayout), true
}

// isDateLayout reports whether s already has the shape of DateLayout.
func isDateLayout(s string) bool {
	if len(s) != len(DateLayout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := DateLayout[i]; '0' <= c && c <= '9' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != c {
			return false
		}
	}
	return true
}

// authValues are the values of @request.auth.<key>: empty strings and
// values of the wrong type count as null.
func authValues(a Auth, key string) []any {
	v := a[key]
	var out []any
	add := func(x any) {
		switch x := x.(type) {
		case string:
			if x != "" && key != "verified" {
				out = append(out, x)
			}
		case bool:
			if key == "verified" {
				out = append(out, x)
			}
		}
	}
	switch v := v.(type) {
	case []string:
		for _, x := range v {
			add(x)
		}
	case []any:
		for _, x := range v {
			add(x)
		}
	default:
		add(v)
	}
	if !authKeys[key] && len(out) > 1 {
		out = out[:1]
	}
	return out
}
