package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// SQL compiles n into a condition over the collection's table aliased "t",
// with placeholders $next, $next+1, … and their arguments. Values never
// enter the SQL text. A nil n gives "TRUE".
//
// Comparisons whose sides are all constants (literals, @now,
// @request.auth.*) are decided here, with Eval's code, and the and/or
// around them simplified, so a rule such as `"editor" in
// @request.auth.roles || author = @request.auth.id` costs the database
// nothing for an editor.
func SQL(n Node, s Schema, collection string, d store.Dialect, auth Auth, next int) (string, []any, error) {
	return SQLAt(n, s, collection, d, auth, next, time.Now())
}

// SQLAt is SQL with @now standing for now.
func SQLAt(n Node, s Schema, collection string, d store.Dialect, auth Auth, next int, now time.Time) (string, []any, error) {
	if d != store.SQLite && d != store.Postgres {
		return "", nil, fmt.Errorf("expr: unknown dialect %q", d)
	}
	if next < 1 {
		return "", nil, fmt.Errorf("expr: first placeholder $%d, want $1 or above", next)
	}
	if n == nil {
		return "TRUE", nil, nil
	}
	p, err := check(n, s, collection)
	if err != nil {
		return "", nil, err
	}
	g := &gen{pg: d == store.Postgres, env: newEnv(auth, now), s: s, base: `"t"`}
	g.guard, _ = s.(Guarded)
	f := g.node(p.root, false)
	if g.err != nil {
		return "", nil, g.err
	}
	return f.finish(next)
}

// gen compiles one checked expression.
type gen struct {
	pg      bool
	env     env
	aliases map[byte]int // per prefix: r (related rows), e (array elements), j (json nodes)

	s     Schema
	guard Guarded // s, when it guards relations; else nil
	base  string  // the alias of the row the expression being compiled reads: "t", or a related row's inside its view rule
	depth int     // relation hops from "t" to base
	cmps  int     // comparisons compiled, those of view rules included
	err   error   // the first error met (a view rule that does not check, too many comparisons)
}

// fail records err, unless an error is recorded already.
func (g *gen) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// alias returns a fresh table alias with prefix c, quoted.
func (g *gen) alias(c byte) string {
	if g.aliases == nil {
		g.aliases = map[byte]int{}
	}
	g.aliases[c]++
	return `"` + string(c) + strconv.Itoa(g.aliases[c]) + `"`
}

// frag is a piece of SQL whose parameters are written as the byte 0 (no
// other 0 byte can occur: identifiers with one are refused), numbered only
// when the whole condition is done, so that pieces dropped by constant
// folding leave no unused parameters behind.
type frag struct {
	sql  string
	args []any
	k    int8 // 1: always true, -1: always false, 0: depends on the row
}

const mark = "\x00"

var (
	fTrue  = frag{sql: "TRUE", k: 1}
	fFalse = frag{sql: "FALSE", k: -1}
)

func constFrag(b bool) frag {
	if b {
		return fTrue
	}
	return fFalse
}

func (f frag) finish(next int) (string, []any, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(f.sql); i++ {
		if f.sql[i] == 0 {
			b.WriteString("$" + strconv.Itoa(next+n))
			n++
			continue
		}
		b.WriteByte(f.sql[i])
	}
	if n != len(f.args) {
		return "", nil, fmt.Errorf("expr: internal error: %d placeholders for %d arguments", n, len(f.args))
	}
	return b.String(), f.args, nil
}

// node compiles n, or its negation when neg is set (negations are pushed
// down to the comparisons, each of which knows how to negate itself
// without SQL's NULL getting in the way).
func (g *gen) node(n cnode, neg bool) frag {
	switch n := n.(type) {
	case *cLogic:
		if n.op == logicNot {
			return g.node(n.items[0], !neg)
		}
		and := (n.op == logicAnd) != neg
		parts := make([]frag, 0, len(n.items))
		for _, it := range n.items {
			f := g.node(it, neg)
			if f.k != 0 {
				if (f.k > 0) == and {
					continue // the neutral element
				}
				return f // the absorbing one
			}
			parts = append(parts, f)
		}
		return combine(parts, and)
	case *cCmp:
		return g.cmp(n, neg)
	}
	return fFalse
}

// combine joins row-dependent parts with AND or OR.
func combine(parts []frag, and bool) frag {
	switch len(parts) {
	case 0:
		return constFrag(and)
	case 1:
		return parts[0]
	}
	sep := " OR "
	if and {
		sep = " AND "
	}
	out := frag{}
	sqls := make([]string, len(parts))
	for i, p := range parts {
		sqls[i] = p.sql
		out.args = append(out.args, p.args...)
	}
	out.sql = "(" + strings.Join(sqls, sep) + ")"
	return out
}

// pred is a comparison's positive condition and how to negate it.
type pred struct {
	frag
	nullable []string // expressions that, NULL, make the condition NULL
	negated  *frag    // a direct spelling of the negation, if any
}

func (p pred) negate() frag {
	if p.negated != nil {
		return *p.negated
	}
	if len(p.nullable) == 0 {
		if strings.HasPrefix(p.sql, "EXISTS ") {
			return frag{sql: "NOT " + p.sql, args: p.args}
		}
		return frag{sql: "NOT (" + p.sql + ")", args: p.args}
	}
	var b strings.Builder
	b.WriteString("(")
	for _, n := range p.nullable {
		b.WriteString(n + " IS NULL OR ")
	}
	b.WriteString("NOT (" + p.sql + "))")
	return frag{sql: b.String(), args: p.args}
}

// cmp compiles a comparison.
func (g *gen) cmp(c *cCmp, neg bool) frag {
	if g.cmps++; g.cmps > maxCompiledComparisons {
		g.fail(errTooComplex)
		return fFalse
	}
	if c.l.isConst() && (c.op == opNull || c.r.isConst()) {
		return constFrag(g.env.cmp(c, nil) != neg)
	}
	var p pred
	if c.op == opNull {
		p = g.nullTest(c)
	} else {
		var ok bool
		if p, ok = g.compare(c); !ok {
			return constFrag(c.neg != neg) // a constant side with no value
		}
	}
	if c.neg != neg {
		return p.negate()
	}
	return p.frag
}

// nullTest compiles "x = null": x has no value.
func (g *gen) nullTest(c *cCmp) pred {
	b := g.bind(c.l.field)
	if b.top {
		not := frag{sql: b.elem + " IS NOT NULL"}
		return pred{frag: frag{sql: b.elem + " IS NULL"}, negated: &not}
	}
	has := b.wrap(frag{sql: b.elem + " IS NOT NULL"})
	if has.k != 0 { // no related row can be seen: no value
		return constPred(has.k < 0)
	}
	return pred{frag: frag{sql: "NOT " + has.sql, args: has.args}, negated: &has}
}

// constPred is a comparison decided while compiling.
func constPred(b bool) pred {
	not := constFrag(!b)
	return pred{frag: constFrag(b), negated: &not}
}
