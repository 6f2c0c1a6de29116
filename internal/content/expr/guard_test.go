package expr_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// guarded is the test schema with view rules, as the content service
// wraps its catalogue for one caller: a collection in hidden cannot be
// viewed at all, one in views through its (checked) rule, any other
// whole.
type guarded struct {
	testSchema
	views  map[string]expr.Node
	hidden map[string]bool
}

var _ expr.Guarded = guarded{}

func (g guarded) ViewRule(collection string) (expr.Node, bool) {
	if g.hidden[collection] {
		return nil, false
	}
	return g.views[collection], true
}

// newGuarded makes a guarded schema whose users have the view rule src
// ("hidden": no users visible; "": every user).
func newGuarded(t testing.TB, src string) guarded {
	t.Helper()
	g := guarded{testSchema: schema, views: map[string]expr.Node{}, hidden: map[string]bool{}}
	if src == "hidden" {
		g.hidden["users"] = true
		return g
	}
	n, err := expr.Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if err := expr.Check(n, schema, "users"); err != nil {
		t.Fatalf("Check(%q): %v", src, err)
	}
	g.views["users"] = n
	return g
}

// viewer is what the caller of Eval does under view rules: it loads only
// the related records the caller may view, relation hops counted from the
// record filtered as SQL counts them.
type viewer struct {
	g    guarded
	auth expr.Auth
}

func (v *viewer) sees(r record) bool {
	if v == nil {
		return true
	}
	rule, visible := v.g.ViewRule(r.collection)
	switch {
	case r.depth > expr.MaxHops || !visible:
		return false
	case rule == nil:
		return true
	}
	ok, err := expr.EvalAt(rule, r, v.auth, testNow)
	return err == nil && ok
}

// userRules are the view rules of users the guarded tests run under.
var userRules = []string{
	"hidden",
	`id = @request.auth.id`,
	`id = @request.auth.id || friend = @request.auth.id || friend.friend = @request.auth.id`, // recursion, until the hops run out
	`"editor" in @request.auth.roles || age > 20 || skills ~ "go" || profile ~ "o"`,
	// A multi field equal to one value: PostgreSQL's @> shortcut, which
	// must read the related row, not the outer one.
	`skills = "go"`,
}

// guardedCallers are the callers the guarded differential runs as.
var guardedCallers = []string{"anon", "ann", "bob"}

// TestGuardedDifferential: with a guarded schema, the database selects
// what Eval selects when it sees only the related records the caller may
// view — for every expression that follows a relation, every caller and
// every rule.
func TestGuardedDifferential(t *testing.T) {
	ds := newDataset()
	var srcs []string
	for _, c := range handCases() {
		srcs = append(srcs, c.src)
	}
	srcs = append(srcs, randomExprs(t, 80)...)
	srcs = slices.DeleteFunc(srcs, func(s string) bool { return !followsRelation(s) })
	if len(srcs) < 90 {
		t.Fatalf("only %d expressions follow a relation", len(srcs))
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ds.load(t, db)
			for _, rule := range userRules {
				g := newGuarded(t, rule)
				for _, src := range srcs {
					n, _ := expr.Parse(src)
					if err := expr.Check(n, schema, "posts"); err != nil {
						t.Fatal(err)
					}
					for _, name := range guardedCallers {
						got, sql := ds.guardedIDs(t, db, g, n, auths[name])
						want := ds.evalIDsWith(t, n, auths[name], &viewer{g: g, auth: auths[name]})
						if !slices.Equal(got, want) {
							t.Errorf("users rule %s: %s as %s:\n  SQL %s\n  database: %v\n  Eval:     %v", rule, src, name, sql, got, want)
						}
					}
				}
			}
		})
	}
}

// followsRelation reports whether src checks and follows a relation.
func followsRelation(src string) bool {
	n, err := expr.Parse(src)
	if err != nil || expr.Check(n, schema, "posts") != nil {
		return false
	}
	return slices.ContainsFunc(expr.Refs(n), func(path []string) bool { return len(path) > 1 })
}

// guardedIDs runs n over posts with the guarded schema g.
func (ds *dataset) guardedIDs(t *testing.T, db *store.DB, g guarded, n expr.Node, auth expr.Auth) ([]string, string) {
	t.Helper()
	sql, args, err := expr.SQLAt(n, g, "posts", db.Dialect(), auth, 1, testNow)
	if err != nil {
		t.Fatalf("SQL(%s): %v", n, err)
	}
	got, err := selectIDs(t, db, sql, args)
	if err != nil {
		t.Fatalf("%s: %s %v: %v", n, sql, args, err)
	}
	return handOnlyOr(got), sql
}

// handOnlyOr is ids, or [] for none (so that slices.Equal compares it
// with Eval's nil).
func handOnlyOr(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// TestGuardedHidesRelations is the finding: a filter must not read
// through a relation into records the caller cannot view.
func TestGuardedHidesRelations(t *testing.T) {
	ds := newDataset()
	cases := []struct {
		rule, src, as, want string
	}{
		// Users hidden from the caller: no filter through author or
		// editors finds anything there; what tests for absence holds.
		{"hidden", `author.name ~ ""`, "ann", "none"},
		{"hidden", `author.name = "Ann"`, "ann", "none"},
		{"hidden", `author.id != null`, "ann", "none"},
		{"hidden", `author.age > 0 || author.age <= 0`, "bob", "none"},
		{"hidden", `editors.name ~ "a"`, "ann", "none"},
		{"hidden", `author.friend.name != null`, "svc", "none"},
		{"hidden", `author.skills = "go"`, "ann", "none"},
		{"hidden", `author.profile ~ "o"`, "ann", "none"},
		{"hidden", `author.name = null`, "ann", "all"},
		{"hidden", `author.name !~ "a"`, "ann", "all"},
		{"hidden", `author = "u1"`, "ann", "h01 h09 h16"}, // the id held by the post itself
		// Users see only themselves.
		{`id = @request.auth.id`, `author.name != null`, "ann", "h01 h09 h16"},
		{`id = @request.auth.id`, `author.name != null`, "bob", "h02 h10"},
		{`id = @request.auth.id`, `author.name != null`, "anon", "none"},
		{`id = @request.auth.id`, `author.id = "u2"`, "ann", "none"},
		{`id = @request.auth.id`, `author.id = "u2"`, "bob", "h02 h10"},
		{`id = @request.auth.id`, `editors.name != null`, "ann", "h04 h08"},
		{`id = @request.auth.id`, `author.friend = "u2"`, "ann", "h01 h09 h16"},
		{`id = @request.auth.id`, `author.friend.name != null`, "ann", "none"}, // u1's friend is u2
		{`id = @request.auth.id`, `author.name = "Ann"`, "bob", "none"},
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ds.load(t, db)
			for _, c := range cases {
				g := newGuarded(t, c.rule)
				n, err := expr.Parse(c.src)
				if err != nil {
					t.Fatal(err)
				}
				if err := expr.Check(n, schema, "posts"); err != nil {
					t.Fatal(err)
				}
				got, sql := ds.guardedIDs(t, db, g, n, auths[c.as])
				if h := strings.Join(handOnly(got), " "); h != expand(c.want) {
					t.Errorf("users rule %s: %s as %s selects %q, want %q\n  SQL %s", c.rule, c.src, c.as, h, expand(c.want), sql)
				}
			}
		})
	}
}

// admin sees every record: the guarded schema of an admin.
type admin struct{ testSchema }

func (admin) ViewRule(string) (expr.Node, bool) { return nil, true }

func TestGuardedSQLShape(t *testing.T) {
	self := newGuarded(t, `id = @request.auth.id`)
	cases := []struct {
		g         expr.Schema
		src, as   string
		sql, args string
	}{
		{self, `author.name = "ann"`, "ann",
			`EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND "r1"."id" = $1 AND "r1"."name" = $2)`, `[u1 ann]`},
		{self, `editors.name != "ann"`, "ann",
			`NOT EXISTS (SELECT 1 FROM json_each("t"."editors") AS "e1" JOIN "c_users" AS "r1" ON "r1"."id" = "e1"."value" WHERE "r1"."id" = $1 AND "r1"."name" = $2)`, `[u1 ann]`},
		{self, `author.name = "ann"`, "anon", `FALSE`, `[]`},
		{self, `author.name = "ann" || title = "x"`, "anon", `"t"."title" = $1`, `[x]`},
		{self, `author.name = null`, "anon", `TRUE`, `[]`},
		{self, `author = "u1"`, "anon", `"t"."author" = $1`, `[u1]`},
		{newGuarded(t, "hidden"), `author.name != "x" && views > 1`, "ann", `"t"."views" > $1`, `[1]`},
		{newGuarded(t, `"editor" in @request.auth.roles`), `author.name = "ann"`, "ann",
			`EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND "r1"."name" = $1)`, `[ann]`},
		// A rule through a relation recurses until the hops run out
		// (MaxHops from posts): there it stops, failing closed.
		{newGuarded(t, `friend.age > 1`), `author.name = "ann"`, "ann", `FALSE`, `[]`},
		{newGuarded(t, `age = 1 || friend.age = 2`), `author.name = "ann"`, "ann",
			`EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND ("r1"."age" = $1 OR ` +
				`EXISTS (SELECT 1 FROM "c_users" AS "r2" WHERE "r2"."id" = "r1"."friend" AND ("r2"."age" = $2 OR ` +
				`EXISTS (SELECT 1 FROM "c_users" AS "r3" WHERE "r3"."id" = "r2"."friend" AND "r3"."age" = $3 AND "r3"."age" = $4)) ` +
				`AND "r2"."age" = $5)) AND "r1"."name" = $6)`, `[1 1 1 2 2 ann]`},
		{admin{schema}, `author.friend.name = "ann"`, "anon",
			`EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND EXISTS (SELECT 1 FROM "c_users" AS "r2" WHERE "r2"."id" = "r1"."friend" AND "r2"."name" = $1))`, `[ann]`},
	}
	for _, c := range cases {
		n, err := expr.Parse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		sql, args, err := expr.SQLAt(n, c.g, "posts", store.SQLite, auths[c.as], 1, testNow)
		if err != nil {
			t.Fatalf("SQL(%s): %v", c.src, err)
		}
		if sql != c.sql || fmt.Sprint(args) != c.args {
			t.Errorf("%s as %s:\n got %s %v\nwant %s %s", c.src, c.as, sql, args, c.sql, c.args)
		}
	}
}

// TestGuardedAdminIsUnguarded: a rule-less view of everything compiles to
// the SQL of the plain schema.
func TestGuardedAdminIsUnguarded(t *testing.T) {
	for _, src := range randomExprs(t, 200) {
		n, err := expr.Parse(src)
		if err != nil || expr.Check(n, schema, "posts") != nil {
			continue
		}
		for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
			plain, pargs, err1 := expr.SQLAt(n, schema, "posts", d, auths["ann"], 1, testNow)
			guarded, gargs, err2 := expr.SQLAt(n, admin{schema}, "posts", d, auths["ann"], 1, testNow)
			if err1 != nil || err2 != nil || plain != guarded || fmt.Sprint(pargs) != fmt.Sprint(gargs) {
				t.Fatalf("%s on %s: plain %s %v (%v), admin %s %v (%v)", src, d, plain, pargs, err1, guarded, gargs, err2)
			}
		}
	}
}

func TestGuardedLimits(t *testing.T) {
	// Each relation of the filter pulls in a rule with many relations,
	// each of which pulls in the rule again: refused, not compiled.
	var terms []string
	for i := range 20 {
		terms = append(terms, fmt.Sprintf("friend.age > %d", i))
	}
	g := newGuarded(t, strings.Join(terms, " || "))
	var filter []string
	for i := range expr.MaxComparisons {
		filter = append(filter, fmt.Sprintf(`author.name = "%d"`, i))
	}
	n, err := expr.Parse(strings.Join(filter, " || "))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = expr.SQLAt(n, g, "posts", store.Postgres, auths["ann"], 1, testNow)
	var e *expr.Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "too complex") {
		t.Errorf("a filter whose view rules multiply: %v, want an *expr.Error saying it is too complex", err)
	}
	// A view rule that does not check is the server's fault, not the
	// filter's: not an *expr.Error.
	bad, _ := expr.Parse(`nosuchfield = 1`)
	broken := guarded{testSchema: schema, views: map[string]expr.Node{"users": bad}}
	n, _ = expr.Parse(`author.name = "x"`)
	if _, _, err := expr.SQLAt(n, broken, "posts", store.SQLite, nil, 1, testNow); err == nil || errors.As(err, &e) {
		t.Errorf("a view rule that does not check: %v, want an error other than *expr.Error", err)
	}
}
