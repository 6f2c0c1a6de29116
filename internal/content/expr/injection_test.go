package expr_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// evilValues are strings that would do harm if they reached SQL text.
var evilValues = []string{
	`'`, `"`, `''`, `\`, `\'`, `%`, `_`, "`", `;`, `--`, `/*`, `*/`,
	`' OR 1=1 --`, `" OR ""="`, `'; DROP TABLE c_posts; --`, `Robert'); DROP TABLE c_posts;--`, `/* c */ ; -- x`,
	`%' OR '1'='1`, `$1`, `$3`, `?`, `:name`, `$$ OR 1=1 $$`, `$tag$`, `E'\\'`, `x' COLLATE "C`, `') OR EXISTS (SELECT 1) --`,
	`@request.auth.id`, `"t"."title"`, `1); DELETE FROM c_users; --`,
	"＇ OR 1=1 --", "ｔｉｔｌｅ", "\u202e' OR 1=1 --", "\u200f'", "\u200b", "\ufeff", "\u2028", "'\u0301",
	"tab\there\nnewline", "\u202erlt\u202c mark",
}

// lit writes s as a string literal of the language.
func lit(s string, q byte) string {
	r := strings.NewReplacer(`\`, `\\`, string(q), `\`+string(q), "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return string(q) + r.Replace(s) + string(q)
}

func TestInjectionValuesAreInert(t *testing.T) {
	ds := newDataset()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ds.load(t, db)
			for _, v := range evilValues {
				for _, q := range []byte{'"', '\''} {
					l := lit(v, q)
					// title = v selects exactly the posts titled v.
					var want []string
					for _, p := range ds.posts {
						if p["title"] == v {
							want = append(want, p["id"].(string))
						}
					}
					slices.Sort(want)
					if got := runInert(t, db, ds, func(l string) string { return "title = " + l }, v, q); !slices.Equal(got, want) {
						t.Errorf("title = %s selects %v, want %v", l, got, want)
					}
					for _, src := range []func(string) string{
						func(l string) string { return "title ~ " + l },
						func(l string) string { return "title != " + l },
						func(l string) string { return "author.name = " + l },
						func(l string) string { return "tags = " + l },
						func(l string) string { return "tags !~ " + l },
						func(l string) string { return "meta ~ " + l },
						func(l string) string { return "title in (" + l + `, "x")` },
						func(l string) string { return l + " ~ title" },
						func(l string) string { return "editors.name ~ " + l },
						func(l string) string { return "(title = " + l + " || views > 10) && !(status = " + l + ")" },
					} {
						runInert(t, db, ds, src, v, q)
					}
				}
			}
			for _, table := range []string{"c_posts", "c_users"} {
				var n int
				if err := db.SQL().QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					t.Fatalf("%s after the attempts: %v", table, err)
				}
				if want := map[string]int{"c_posts": len(ds.posts), "c_users": len(ds.users)}[table]; n != want {
					t.Errorf("%s has %d rows after the attempts, want %d", table, n, want)
				}
			}
		})
	}
}

// runInert compiles the expression src makes of v (quoted with q),
// checks that its SQL text is the same as for a harmless value (the value
// is only an argument), runs it and checks the database agrees with Eval;
// it returns the ids selected.
func runInert(t *testing.T, db *store.DB, ds *dataset, src func(lit string) string, v string, q byte) []string {
	t.Helper()
	compile := func(v string) (expr.Node, string, []any) {
		t.Helper()
		n, err := expr.Parse(src(lit(v, q)))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src(lit(v, q)), err)
		}
		if err := expr.Check(n, schema, "posts"); err != nil {
			t.Fatalf("Check(%q): %v", n, err)
		}
		sql, args, err := expr.SQLAt(n, schema, "posts", db.Dialect(), auths["evil"], 1, testNow)
		if err != nil {
			t.Fatalf("SQL(%q): %v", n, err)
		}
		return n, sql, args
	}
	n, sql, args := compile(v)
	if _, harmless, _ := compile("harmless"); sql != harmless {
		t.Errorf("the SQL of %s depends on the value:\n%s\n%s", n, sql, harmless)
	}
	got, err := selectIDs(t, db, sql, args)
	if err != nil {
		t.Fatalf("%s: %s %v: %v", n, sql, args, err)
	}
	if want := ds.evalIDs(t, n, auths["evil"]); !slices.Equal(got, want) {
		t.Errorf("%s: database %v, Eval %v", n, got, want)
	}
	return got
}

func TestInjectionIdentifiersAreRejected(t *testing.T) {
	for _, src := range []string{
		`title; DROP TABLE c_posts`, `title = "x" OR 1=1`, `title = "x" or 1 = 1`, `"t"."title" = "x"`, `title = "x"--`,
		`title/**/= "x"`, "ｔｉｔｌｅ = \"x\"", "tit\u200ble = \"x\"", "title\u202e = \"x\"", "titl\u0435 = \"x\"",
		`pg_sleep(10) = 1`, `(SELECT 1) = 1`, `title = $1`, `title = ?`, `views = 1; DELETE FROM c_posts`,
		`id = "1" UNION SELECT id FROM c_users`, `t.id = "x"`, `c_users.name = "x"`, `sqlite_master.name = "x"`,
		`title = "x" AND views = 1`, `title = "x" || 1`, "title = \"x\"\x00", `title = @request.auth.password`,
		`title COLLATE "C" = "x"`, `title = 'x' ESCAPE '\'`, `version = 0x10`, `views = 1e`, `title = "\x27"`,
		`meta->>'a' = "x"`, `title = [1]`, `title = {}`,
	} {
		n, err := expr.Parse(src)
		if err == nil {
			err = expr.Check(n, schema, "posts")
		}
		if err == nil {
			t.Errorf("%q was accepted", src)
		}
	}
}
