package records

import (
	"strings"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
)

// keyKind is how a sort key's values are compared and bound.
type keyKind int

const (
	kText keyKind = iota
	kInt
	kFloat
	kBool
	kDate
	kRank // the full-text rank of a search
)

// sortKey is one key of a list's order.
type sortKey struct {
	col      *column // nil for kRank
	desc     bool
	kind     keyKind
	nullable bool
}

// name is the key as a sort parameter writes it ("-views"); the rank is
// "@rank".
func (k sortKey) name() string {
	n := "@rank"
	if k.col != nil {
		n = k.col.name
	}
	if k.desc {
		return "-" + n
	}
	return n
}

// order is a list's full order: the keys asked for, then id.
type order struct {
	keys []sortKey
	sig  string // the keys joined by ",": what a cursor must have been made for
}

// ranked reports whether o orders by the rank of a search.
func (o order) ranked() bool {
	for _, k := range o.keys {
		if k.kind == kRank {
			return true
		}
	}
	return false
}

// parseSort validates the sort parameter against the fields of m: each
// entry (or comma-separated part of one) is a field or system field, with
// "-" for descending and "+" or nothing for ascending; json and multi
// fields do not sort. No sort is newest first ("-id"), or best match first
// when searching. id ends every order, breaking ties in the direction of
// the key before it.
func (m *meta) parseSort(sort []string, search bool) (order, error) {
	var keys []sortKey
	seen := map[string]bool{}
	var problems []errs.FieldError
	bad := func(code, msg string) {
		problems = append(problems, errs.FieldError{Field: "sort", Code: code, Message: msg})
	}
	hasID := false
	for _, entry := range sort {
		for part := range strings.SplitSeq(entry, ",") {
			part = strings.TrimSpace(part)
			if part == "" || hasID {
				continue
			}
			desc := strings.HasPrefix(part, "-")
			name := strings.TrimLeft(part, "+-")
			col, ok := m.column(name)
			switch {
			case !ok:
				bad("unknown", "no field "+quoteName(name))
				continue
			case seen[name]:
				bad("duplicate", quoteName(name)+" is listed twice")
				continue
			case col.field != nil && col.field.IsJSON():
				bad("not_sortable", quoteName(name)+" holds JSON and cannot sort")
				continue
			}
			seen[name] = true
			keys = append(keys, keyOf(col, desc))
			hasID = name == fID
		}
	}
	if len(problems) > 0 {
		return order{}, &errs.Error{Kind: errs.Invalid, Code: CodeInvalidSort, Message: "The sort is not valid.", Fields: problems}
	}
	switch {
	case len(keys) == 0 && search:
		keys = append(keys, sortKey{kind: kRank, desc: true}) // larger ranks match better
	case len(keys) == 0:
		id, _ := m.column(fID)
		keys = append(keys, keyOf(id, true))
		hasID = true
	}
	if !hasID {
		id, _ := m.column(fID)
		keys = append(keys, keyOf(id, keys[len(keys)-1].desc))
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name()
	}
	return order{keys: keys, sig: strings.Join(names, ",")}, nil
}

func keyOf(col *column, desc bool) sortKey {
	k := sortKey{col: col, desc: desc, nullable: !col.system()}
	switch {
	case col.field == nil && (col.name == fCreated || col.name == fUpdated):
		k.kind = kDate
	case col.field == nil && col.name == fVersion:
		k.kind = kInt
	case col.field == nil:
		k.kind = kText
	case col.field.Type == schema.Number && col.field.Integer:
		k.kind = kInt
	case col.field.Type == schema.Number:
		k.kind = kFloat
	case col.field.Type == schema.Bool:
		k.kind = kBool
	case col.field.Type == schema.Date:
		k.kind = kDate
	}
	return k
}

func quoteName(name string) string { return `"` + name + `"` }
