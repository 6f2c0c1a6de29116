package expr_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// auths are the callers every differential case runs as.
var auths = map[string]expr.Auth{
	"anon": {},
	"ann": {"id": "u1", "roles": []any{"editor", "user"}, "permissions": []any{"content.read"},
		"email": "ann@example.com", "verified": true, "kind": "user"},
	"bob":  {"id": "u2", "roles": []any{}, "verified": false, "email": "bob@example.com", "kind": "user"},
	"svc":  {"id": "u404", "kind": "service", "roles": []string{"admin", "Editor"}, "permissions": []any{"content.*"}},
	"evil": {"id": "' OR 1=1 --", "email": `%_\`, "roles": []string{"%"}, "verified": "yes"},
}

// authNames is auths' keys in a fixed order.
var authNames = []string{"anon", "ann", "bob", "svc", "evil"}

// diffCase is an expression; want (when set) lists the hand-written posts
// (h…) it selects for caller as ("anon" if empty), "none" for none, "all"
// for all.
type diffCase struct {
	src, as, want string
}

const allHand = "h01 h02 h03 h04 h05 h06 h07 h08 h09 h10 h11 h12 h13 h14 h15 h16"

// except lists the hand-written posts other than ids.
func except(ids string) string {
	var out []string
	for _, id := range strings.Fields(allHand) {
		if !slices.Contains(strings.Fields(ids), id) {
			out = append(out, id)
		}
	}
	return strings.Join(out, " ")
}

func TestDifferential(t *testing.T) {
	ds := newDataset()
	random := randomExprs(t, 520)
	cases := handCases()
	if len(cases) < 150 || len(random) < 500 {
		t.Fatalf("%d hand-written and %d random cases, want ≥ 150 and ≥ 500", len(cases), len(random))
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ds.load(t, db)
			for _, c := range cases {
				ds.agree(t, db, c)
			}
			for _, src := range random {
				ds.agree(t, db, diffCase{src: src})
			}
		})
	}
}

// agree checks that the database and Eval select the same posts for c,
// for every caller, and that the hand-written ones are c.want.
func (ds *dataset) agree(t *testing.T, db *store.DB, c diffCase) {
	t.Helper()
	n, err := expr.Parse(c.src)
	if err != nil {
		t.Errorf("Parse(%q): %v", c.src, err)
		return
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		t.Errorf("Check(%q): %v", c.src, err)
		return
	}
	for _, name := range authNames {
		auth := auths[name]
		// Two parameters of the caller's own come first, as in a real query.
		cond, args, err := expr.SQLAt(n, schema, "posts", db.Dialect(), auth, 3, testNow)
		if err != nil {
			t.Errorf("SQL(%q): %v", c.src, err)
			return
		}
		got, err := selectIDs(t, db, `"t"."id" <> $1 AND "t"."id" <> $2 AND `+cond, append([]any{"x1", "x2"}, args...))
		if err != nil {
			t.Errorf("%s as %s: query %s %v: %v", c.src, name, cond, args, err)
			continue
		}
		want := ds.evalIDs(t, n, auth)
		if !slices.Equal(got, want) {
			t.Errorf("%s as %s:\n  SQL %s %v\n  database: %v\n  Eval:     %v", c.src, name, cond, args, got, want)
		}
		as := c.as
		if as == "" {
			as = "anon"
		}
		if c.want != "" && name == as {
			if h := strings.Join(handOnly(want), " "); h != expand(c.want) {
				t.Errorf("%s as %s: selects %q, want %q", c.src, name, h, expand(c.want))
			}
		}
	}
}

func expand(want string) string {
	switch want {
	case "none":
		return ""
	case "all":
		return allHand
	}
	return want
}

func handOnly(ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, "h") {
			out = append(out, id)
		}
	}
	return out
}
