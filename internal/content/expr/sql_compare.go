package expr

import (
	"encoding/json"
	"math"
	"strings"
	"time"
)

// term is a SQL operand: a column (or element) expression, or a parameter.
type term struct {
	sql   string
	param bool
}

// operandSQL is a compiled side: a field binding, or constant values.
type operandSQL struct {
	b    *binding
	vals []any
}

// compare compiles a comparison other than the null test. ok is false
// when a constant side has no value, so the positive form cannot hold.
func (g *gen) compare(c *cCmp) (pred, bool) {
	var l, r operandSQL
	if c.l.isConst() {
		if l.vals = g.env.values(c.l, c.kind, nil); len(l.vals) == 0 {
			return pred{}, false
		}
	}
	if c.r.isConst() {
		if r.vals = g.env.values(c.r, textIfJSON(c.kind), nil); len(r.vals) == 0 {
			return pred{}, false
		}
	}
	if p, ok := g.contains(c, l, r); ok {
		return p, true
	}
	if !c.l.isConst() {
		b := g.bind(c.l.field)
		l.b = &b
	}
	if !c.r.isConst() {
		b := g.bind(c.r.field)
		r.b = &b
	}
	p := pred{frag: g.core(c, l, r)}
	for _, o := range []operandSQL{r, l} {
		if o.b == nil {
			continue
		}
		if p.frag = o.b.wrap(p.frag); p.k < 0 {
			return pred{}, false // no related row can be seen: no value
		}
		if o.b.top && c.kind != KindJSON {
			p.nullable = append([]string{o.b.elem}, p.nullable...)
		}
	}
	if c.op == opEq && len(p.nullable) == 1 && len(l.vals)+len(r.vals) == 1 {
		// x != v, x a column of the table: true when x is null.
		v := l.vals
		if len(v) == 0 {
			v = r.vals
		}
		t, arg := g.param(c.kind, v[0])
		distinct := " IS NOT "
		if g.pg {
			distinct = " IS DISTINCT FROM "
		}
		p.negated = &frag{sql: p.nullable[0] + distinct + t.sql, args: []any{arg}}
	}
	return p, true
}

func textIfJSON(k Kind) Kind {
	if k == KindJSON {
		return KindText
	}
	return k
}

// contains compiles, on PostgreSQL, "multi = value" for a multi column of
// the table itself as jsonb containment, which a GIN index can serve.
func (g *gen) contains(c *cCmp, l, r operandSQL) (pred, bool) {
	field, vals := c.l.field, r.vals
	if field == nil {
		field, vals = c.r.field, l.vals
	}
	if !g.pg || c.op != opEq || field == nil || len(field.hops) != 1 || !field.hops[0].Multi || len(vals) != 1 {
		return pred{}, false
	}
	arr, err := json.Marshal([]any{vals[0]})
	if err != nil {
		return pred{}, false
	}
	col := g.base + "." + quoteIdent(field.hops[0].Column) // the row read: "t", or a related one inside its view rule
	return pred{
		frag:     frag{sql: col + " @> CAST(CAST(" + mark + " AS text) AS jsonb)", args: []any{string(arr)}},
		nullable: []string{col},
	}, true
}

// core is the comparison of the innermost values, before the EXISTS of
// multi fields and relations wrap it.
func (g *gen) core(c *cCmp, l, r operandSQL) frag {
	if l.b != nil && r.b != nil {
		return frag{sql: g.op(c, term{sql: l.b.elem}, term{sql: r.b.elem})}
	}
	field, vals, fieldLeft := l.b, r.vals, true
	if field == nil {
		field, vals, fieldLeft = r.b, l.vals, false
	}
	col := term{sql: field.elem}
	var f frag
	if c.op == opEq {
		ps := make([]string, len(vals))
		for i, v := range vals {
			t, arg := g.param(c.kind, v)
			ps[i] = t.sql
			f.args = append(f.args, arg)
		}
		if len(ps) == 1 {
			f.sql = col.sql + " = " + ps[0]
		} else {
			f.sql = col.sql + " IN (" + strings.Join(ps, ", ") + ")"
		}
		return f
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		var t term
		var arg any
		if c.op == opLike && fieldLeft {
			t, arg = term{sql: mark, param: true}, "%"+escapeLike(v.(string))+"%"
		} else {
			t, arg = g.param(textIfJSON(c.kind), v)
		}
		f.args = append(f.args, arg)
		if fieldLeft {
			parts[i] = g.op(c, col, t)
		} else {
			parts[i] = g.op(c, t, col)
		}
	}
	f.sql = parts[0]
	if len(parts) > 1 {
		f.sql = "(" + strings.Join(parts, " OR ") + ")"
	}
	return f
}

// op writes "l op r". For ~, r is the pattern when it is a parameter (the
// caller escaped it), or a column made into one here.
func (g *gen) op(c *cCmp, l, r term) string {
	if c.op != opLike {
		if g.pg && c.kind == KindText && c.op != opEq {
			// Byte order, as SQLite and Go compare, not the locale's.
			l, r = g.collateC(l), g.collateC(r)
		}
		return l.sql + " " + sqlOps[c.op] + " " + r.sql
	}
	contains := func(s term) string { return g.like(s, r) }
	switch {
	case !r.param && !g.pg:
		// The pattern is a column's value: SQLite refuses a LIKE pattern
		// over 50,000 bytes, which a text can exceed, so find it with
		// instr, folding ASCII case as LIKE does (lower without ICU). Its
		// position is the truth value (SQLite: not 0), NULL as LIKE's.
		contains = func(s term) string { return "instr(lower(" + s.sql + "), lower(" + r.sql + "))" }
	case !r.param:
		pat := term{sql: "('%' || " + g.escapeExpr(r.sql) + " || '%')"}
		contains = func(s term) string { return g.like(s, pat) }
	}
	if c.kind == KindJSON {
		return g.jsonLike(l.sql, contains)
	}
	return contains(l)
}

// like writes "s contains pattern", folding ASCII case only (see
// containsFold).
func (g *gen) like(s, pat term) string {
	if g.pg {
		return g.collateC(s).sql + " ILIKE " + g.collateC(pat).sql + ` ESCAPE E'\\'`
	}
	return s.sql + " LIKE " + pat.sql + ` ESCAPE '\'`
}

// collateC gives a non-parameter text operand the "C" collation (a
// parameter takes its type from the other side, which has it).
func (g *gen) collateC(t term) term {
	if t.param {
		return t
	}
	return term{sql: t.sql + ` COLLATE "C"`}
}

// jsonLike is true when some string s in the json value col makes
// contains(s) true.
func (g *gen) jsonLike(col string, contains func(s term) string) string {
	j := g.alias('j')
	if g.pg {
		v := term{sql: "(" + j + `."v" #>> '{}')`}
		return "EXISTS (SELECT 1 FROM jsonb_path_query(" + col + `, 'strict $.**') AS ` + j + `("v") WHERE jsonb_typeof(` + j + `."v") = 'string' AND ` + contains(v) + ")"
	}
	return "EXISTS (SELECT 1 FROM json_tree(" + col + ") AS " + j + " WHERE " + j + `."type" = 'text' AND ` + contains(term{sql: j + `."atom"`}) + ")"
}

// escapeExpr escapes LIKE's special characters in a column's value.
func (g *gen) escapeExpr(sql string) string {
	if g.pg {
		return `replace(replace(replace(` + sql + `, E'\\', E'\\\\'), '%', E'\\%'), '_', E'\\_')`
	}
	return `replace(replace(replace(` + sql + `, '\', '\\'), '%', '\%'), '_', '\_')`
}

// likeEscaper escapes LIKE's special characters in a value.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }

// param returns a placeholder for v (of kind k) and the argument to bind.
func (g *gen) param(k Kind, v any) (term, any) {
	t := term{sql: mark, param: true}
	switch k {
	case KindNumber:
		f := v.(float64)
		if f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return t, int64(f)
		}
		if g.pg {
			// Typed, or PostgreSQL would take it for the bigint it is
			// compared with and refuse 1.5.
			t.sql = "CAST(" + mark + " AS double precision)"
		}
		return t, f
	case KindDate:
		if g.pg {
			d, _ := time.Parse(DateLayout, v.(string))
			return t, d
		}
	}
	return t, v
}
