package expr

import "strings"

// binding is a field path made SQL: elem is the expression of one of its
// values, valid inside the EXISTS subqueries wraps builds (one per
// relation followed and one for a multi field at the end).
type binding struct {
	elem  string
	wraps []func(inner frag) frag // outermost first
	top   bool                    // a column of the row read itself: elem may be NULL
}

// wrap puts cond, a condition on elem, inside the subqueries. The result
// is FALSE (k -1) when a relation on the path leads to no row the caller
// may see.
func (b binding) wrap(cond frag) frag {
	for i := len(b.wraps) - 1; i >= 0; i-- {
		cond = b.wraps[i](cond)
	}
	return cond
}

// bind makes a binding for f, read from the row g.base, allocating its
// aliases.
//
//	author.name   EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND <cond on "r1"."name">)
//	editors.name  EXISTS (SELECT 1 FROM json_each("t"."editors") AS "e1" JOIN "c_users" AS "r1" ON "r1"."id" = "e1"."value" WHERE …)
//	tags          EXISTS (SELECT 1 FROM json_each("t"."tags") AS "e1" WHERE <cond on "e1"."value">)
//
// With a Guarded schema, the view rule of each related collection joins
// the condition of its subquery (see viewRule):
//
//	author.name   EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND <rule over "r1"> AND <cond>)
func (g *gen) bind(f *cField) binding {
	var b binding
	owner := g.base
	for i, h := range f.hops {
		col := owner + "." + quoteIdent(h.Column)
		if i == len(f.hops)-1 {
			b.elem = col
			if h.Multi {
				each, elem := g.each(col)
				b.elem = elem
				b.wraps = append(b.wraps, func(in frag) frag {
					return exists(each, "", in)
				})
			}
			break
		}
		r := g.alias('r')
		from := quoteIdent(h.table) + " AS " + r
		id := r + "." + quoteIdent(h.idCol)
		rule := g.viewRule(h.Target, r, g.depth+i+1)
		if h.Multi {
			each, elem := g.each(col)
			b.wraps = append(b.wraps, func(in frag) frag {
				return exists(each+" JOIN "+from+" ON "+id+" = "+elem, "", and(rule, in))
			})
		} else {
			b.wraps = append(b.wraps, func(in frag) frag {
				return exists(from, id+" = "+col, and(rule, in))
			})
		}
		owner = r
	}
	b.top = len(b.wraps) == 0
	return b
}

// exists is EXISTS (SELECT 1 FROM from WHERE on AND cond), FALSE when cond
// is.
func exists(from, on string, cond frag) frag {
	if cond.k < 0 {
		return fFalse
	}
	where := cond.sql
	switch {
	case cond.k > 0 && on != "":
		where = on
	case on != "":
		where = on + " AND " + cond.sql
	}
	return frag{sql: "EXISTS (SELECT 1 FROM " + from + " WHERE " + where + ")", args: cond.args}
}

// and is a AND b, folded when either is constant; unlike combine it adds
// no parentheses (a subquery's WHERE needs none).
func and(a, b frag) frag {
	switch {
	case a.k < 0 || b.k < 0:
		return fFalse
	case a.k > 0:
		return b
	case b.k > 0:
		return a
	}
	return frag{sql: a.sql + " AND " + b.sql, args: append(append([]any(nil), a.args...), b.args...)}
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
