package records

import (
	"strconv"
	"strings"
)

// segment is one query of a keyset page: a condition selecting rows after
// the cursor, and its arguments.
type segment struct {
	cond string
	args []any
}

// keyset returns the conditions selecting the rows that come after the
// cursor values vals in order o, where exprs[i] is the SQL of key i, with
// placeholders from $next on. NULLs sort before every value in both
// directions (first ascending, last descending), as orderBy says.
//
// Every condition starts with a range on the first key, which an index on
// it serves, so a deep page costs what the first does. Where the rows
// after the cursor are a range of values and then the NULLs (descending)
// or the NULLs and then the values (ascending, from a null), no one range
// covers them: there are two segments, to read in turn until the page is
// full. The texts depend only on the order, which values are null and
// next: m caches them.
func (m *meta) keyset(o order, exprs []string, vals []any, next int) []segment {
	args := make([]any, 0, len(vals))
	mask := make([]byte, len(vals))
	for i, v := range vals {
		mask[i] = '1'
		if v != nil {
			args = append(args, v)
			mask[i] = '0'
		}
	}
	key := "keyset|" + o.sig + "|" + string(mask) + "|" + strconv.Itoa(next) + "|" + strings.Join(exprs, ",")
	text := m.text(key, func() string { return keysetText(o.keys, exprs, vals, next) })
	first, second, _ := strings.Cut(text, "\x00")
	segs := []segment{{cond: first, args: args}}
	if second != "" {
		segs = append(segs, segment{cond: second}) // no cursor value in it
	}
	return segs
}

// keysetText is the text of keyset's conditions, the second (if any) after
// a NUL byte.
func keysetText(keys []sortKey, exprs []string, vals []any, next int) string {
	ph := make([]string, len(vals))
	n := next
	for i, v := range vals {
		if v != nil {
			ph[i] = "$" + strconv.Itoa(n)
			n++
		}
	}
	k, e, p := keys[0], exprs[0], ph[0]
	if rowValue(keys, vals) {
		op := " > "
		if k.desc {
			op = " < "
		}
		if len(keys) == 1 {
			return e + op + p
		}
		return "(" + strings.Join(exprs, ", ") + ")" + op + "(" + strings.Join(ph, ", ") + ")"
	}
	if len(keys) == 1 { // cannot be: the last key is id, never null, which rowValue takes
		return afterText(keys, exprs, vals, ph)
	}
	rest := afterText(keys[1:], exprs[1:], vals[1:], ph[1:])
	switch {
	case vals[0] == nil && !k.desc:
		return e + " IS NULL AND " + rest + "\x00" + e + " IS NOT NULL"
	case vals[0] == nil:
		return e + " IS NULL AND " + rest
	case !k.desc:
		return e + " >= " + p + " AND (" + e + " > " + p + " OR (" + e + " = " + p + " AND " + rest + "))"
	case k.nullable:
		return e + " <= " + p + " AND (" + e + " < " + p + " OR (" + e + " = " + p + " AND " + rest + "))" +
			"\x00" + e + " IS NULL"
	default:
		return e + " <= " + p + " AND (" + e + " < " + p + " OR (" + e + " = " + p + " AND " + rest + "))"
	}
}

// afterText is the condition, in parentheses, that a row comes after the
// values vals (placeholders ph) in the order of keys: for some key, the
// keys before it equal and it after.
func afterText(keys []sortKey, exprs []string, vals []any, ph []string) string {
	if rowValue(keys, vals) {
		op := " > "
		if keys[0].desc {
			op = " < "
		}
		if len(keys) == 1 {
			return "(" + exprs[0] + op + ph[0] + ")"
		}
		return "((" + strings.Join(exprs, ", ") + ")" + op + "(" + strings.Join(ph, ", ") + "))"
	}
	var terms []string
	for i, k := range keys {
		var t []string
		for j := range i {
			if vals[j] == nil {
				t = append(t, exprs[j]+" IS NULL")
			} else {
				t = append(t, exprs[j]+" = "+ph[j])
			}
		}
		switch {
		case !k.desc && vals[i] == nil:
			t = append(t, exprs[i]+" IS NOT NULL")
		case !k.desc:
			t = append(t, exprs[i]+" > "+ph[i])
		case vals[i] == nil:
			continue // nothing sorts after a null, descending
		case k.nullable:
			t = append(t, "("+exprs[i]+" < "+ph[i]+" OR "+exprs[i]+" IS NULL)")
		default:
			t = append(t, exprs[i]+" < "+ph[i])
		}
		terms = append(terms, strings.Join(t, " AND "))
	}
	if len(terms) == 0 {
		return "(1 = 0)"
	}
	return "((" + strings.Join(terms, ") OR (") + "))"
}

// rowValue reports whether "keys after vals" can be one row-value
// comparison: every key in one direction and never null.
func rowValue(keys []sortKey, vals []any) bool {
	for i, k := range keys {
		if k.nullable || k.kind == kRank || vals[i] == nil || k.desc != keys[0].desc {
			return false
		}
	}
	return true
}
