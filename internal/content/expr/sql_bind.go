package expr

import "strings"

// binding is a field path made SQL: elem is the expression of one of its
// values, valid inside the EXISTS subqueries wraps builds (one per
// relation followed and one for a multi field at the end).
type binding struct {
	elem  string
	wraps []func(inner string) string // outermost first
	top   bool                        // a column of "t" itself: elem may be NULL
}

// wrap puts cond, a condition on elem, inside the subqueries.
func (b binding) wrap(cond string) string {
	for i := len(b.wraps) - 1; i >= 0; i-- {
		cond = b.wraps[i](cond)
	}
	return cond
}

// bind makes a binding for f, allocating its aliases.
//
//	author.name   EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND <cond on "r1"."name">)
//	editors.name  EXISTS (SELECT 1 FROM json_each("t"."editors") AS "e1" JOIN "c_users" AS "r1" ON "r1"."id" = "e1"."value" WHERE …)
//	tags          EXISTS (SELECT 1 FROM json_each("t"."tags") AS "e1" WHERE <cond on "e1"."value">)
func (g *gen) bind(f *cField) binding {
	var b binding
	owner := `"t"`
	for i, h := range f.hops {
		col := owner + "." + quoteIdent(h.Column)
		if i == len(f.hops)-1 {
			b.elem = col
			if h.Multi {
				each, elem := g.each(col)
				b.elem = elem
				b.wraps = append(b.wraps, func(in string) string {
					return "EXISTS (SELECT 1 FROM " + each + " WHERE " + in + ")"
				})
			}
			break
		}
		r := g.alias('r')
		from := quoteIdent(h.table) + " AS " + r
		id := r + "." + quoteIdent(h.idCol)
		if h.Multi {
			each, elem := g.each(col)
			b.wraps = append(b.wraps, func(in string) string {
				return "EXISTS (SELECT 1 FROM " + each + " JOIN " + from + " ON " + id + " = " + elem + " WHERE " + in + ")"
			})
		} else {
			b.wraps = append(b.wraps, func(in string) string {
				return "EXISTS (SELECT 1 FROM " + from + " WHERE " + id + " = " + col + " AND " + in + ")"
			})
		}
		owner = r
	}
	b.top = len(b.wraps) == 0
	return b
}

// each is the table function listing the elements of a JSON array column,
// and the expression of one element (as text).
func (g *gen) each(col string) (from, elem string) {
	e := g.alias('e')
	if g.pg {
		return "jsonb_array_elements_text(" + col + ") AS " + e + `("value")`, e + `."value"`
	}
	return "json_each(" + col + ") AS " + e, e + `."value"`
}

// quoteIdent quotes a table or column name (which comes from the schema,
// never from the expression's source).
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
