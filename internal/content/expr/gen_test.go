package expr_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
)

// genField is a path random expressions use, with its kind and whether it
// stands for several values.
type genField struct {
	path string
	kind expr.Kind
	set  bool
}

var genFields = []genField{
	{"title", expr.KindText, false}, {"status", expr.KindText, false}, {"id", expr.KindText, false},
	{"author", expr.KindText, false}, {"tags", expr.KindText, true}, {"editors", expr.KindText, true},
	{"views", expr.KindNumber, false}, {"rating", expr.KindNumber, false}, {"version", expr.KindNumber, false},
	{"published", expr.KindBool, false}, {"created", expr.KindDate, false}, {"updated", expr.KindDate, false},
	{"meta", expr.KindJSON, false},
	{"author.name", expr.KindText, false}, {"author.age", expr.KindNumber, false}, {"author.skills", expr.KindText, true},
	{"author.profile", expr.KindJSON, false}, {"author.friend.name", expr.KindText, false},
	{"author.friend.friend.age", expr.KindNumber, false}, {"author.created", expr.KindDate, false},
	{"editors.name", expr.KindText, true}, {"editors.age", expr.KindNumber, true}, {"editors.skills", expr.KindText, true},
	{"editors.profile", expr.KindJSON, true}, {"editors.friend.name", expr.KindText, true},
}

var genPools = map[expr.Kind][]string{
	expr.KindText: {`"go"`, `"Go"`, `"hello"`, `"Ann"`, `"ann"`, `""`, `"%"`, `"_"`, `"\\"`, `"' OR 1=1 --"`, `"é"`, `"É"`,
		`"a"`, `"B"`, `"null"`, `"draft"`, `"u1"`, `"u6"`, `"u404"`, `"h01"`, `"r05"`, `"🙂"`, `"db"`, `"ß"`, `"zeta"`, `"o"`},
	expr.KindNumber: {`0`, `1`, `-5`, `10`, `9.5`, `2.5`, `30`, `1e6`, `-1.25`, `17.5`, `42`, `-0.5`},
	expr.KindDate: {`"2026-01-15"`, `"2026-01-15 10:00:00"`, `"2025-12-31T23:59:59.999Z"`, `"2026-03-01T12:00:00Z"`, `@now`,
		`"2020-02-29"`, `"2027-01-01T00:00:00+02:00"`, `"2026-02-10"`},
	expr.KindBool: {`true`, `false`},
}

var genAuth = map[expr.Kind][]string{
	expr.KindText: {`@request.auth.id`, `@request.auth.email`, `@request.auth.kind`},
	expr.KindBool: {`@request.auth.verified`},
}

var genOps = map[expr.Kind][]string{
	expr.KindText:   {"=", "!=", "~", "!~", ">", ">=", "<", "<=", "in", "!in"},
	expr.KindNumber: {"=", "!=", ">", ">=", "<", "<=", "in", "!in"},
	expr.KindDate:   {"=", "!=", ">", ">=", "<", "<=", "in", "!in"},
	expr.KindBool:   {"=", "!=", "", "!"},
	expr.KindJSON:   {"=", "!=", "~", "!~"},
}

// exprGen writes random, mostly valid expressions over the test schema.
type exprGen struct{ rng *rand.Rand }

func (g exprGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g exprGen) chance(p float64) bool { return g.rng.Float64() < p }

func (g exprGen) expr(depth int) string {
	if depth == 0 || g.chance(0.35) {
		return g.leaf()
	}
	switch g.rng.IntN(5) {
	case 0, 1:
		return g.expr(depth-1) + " && " + g.expr(depth-1)
	case 2:
		return g.expr(depth-1) + " || " + g.expr(depth-1)
	case 3:
		return "!(" + g.expr(depth-1) + ")"
	}
	return "(" + g.expr(depth-1) + " || " + g.expr(depth-1) + ")"
}

func (g exprGen) field(k expr.Kind, set bool) string {
	var ok []string
	for _, f := range genFields {
		if f.kind == k && (!set || f.set) {
			ok = append(ok, f.path)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	return g.pick(ok)
}

func (g exprGen) leaf() string {
	f := genFields[g.rng.IntN(len(genFields))]
	op := g.pick(genOps[f.kind])
	switch {
	case op == "":
		return f.path
	case op == "!":
		return "!" + f.path
	case (op == "=" || op == "!=") && (f.kind == expr.KindJSON || g.chance(0.12)):
		return g.maybeSwap(f.path, op, "null")
	case f.kind == expr.KindJSON:
		return f.path + " " + op + " " + g.value(expr.KindText)
	case op == "in" || op == "!in":
		return g.value(f.kind) + " " + op + " " + g.set(f.kind)
	}
	return g.maybeSwap(f.path, op, g.value(f.kind))
}

func (g exprGen) maybeSwap(l, op, r string) string {
	if g.chance(0.2) {
		l, r = r, l
	}
	return l + " " + op + " " + r
}

// value is a literal, @request ref or field of kind k.
func (g exprGen) value(k expr.Kind) string {
	switch {
	case g.chance(0.15) && len(genAuth[k]) > 0:
		return g.pick(genAuth[k])
	case g.chance(0.2):
		if f := g.field(k, false); f != "" {
			return f
		}
	}
	return g.pick(genPools[k])
}

// set is a right side for in: a list, a set-valued field or a role list.
func (g exprGen) set(k expr.Kind) string {
	switch {
	case k == expr.KindText && g.chance(0.2):
		return g.pick([]string{"@request.auth.roles", "@request.auth.permissions"})
	case g.chance(0.3):
		if f := g.field(k, true); f != "" {
			return f
		}
	}
	items := make([]string, 1+g.rng.IntN(3))
	for i := range items {
		items[i] = g.pick(genPools[k])
		if items[i] == "@now" {
			items[i] = `"2026-03-01T12:00:00Z"`
		}
	}
	return "(" + strings.Join(items, ", ") + ")"
}

// randomExprs returns n random expressions that pass Check (seeded, so
// every run tests the same ones).
func randomExprs(t *testing.T, n int) []string {
	t.Helper()
	g := exprGen{rng: rand.New(rand.NewPCG(42, 7))}
	var out []string
	invalid := 0
	for len(out) < n {
		src := g.expr(3)
		node, err := expr.Parse(src)
		if err != nil {
			t.Fatalf("generated %q does not parse: %v", src, err)
		}
		if expr.Check(node, schema, "posts") != nil {
			invalid++
			if invalid > n {
				t.Fatalf("more than %d generated expressions fail Check", n)
			}
			continue
		}
		out = append(out, src)
	}
	return out
}
