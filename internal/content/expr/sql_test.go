package expr_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

// compile parses, checks and compiles src over posts, failing t on error.
func compile(t *testing.T, src string, d store.Dialect, auth expr.Auth, next int) (string, []any) {
	t.Helper()
	n, err := expr.Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		t.Fatalf("Check(%q): %v", src, err)
	}
	sql, args, err := expr.SQLAt(n, schema, "posts", d, auth, next, testNow)
	if err != nil {
		t.Fatalf("SQL(%q): %v", src, err)
	}
	return sql, args
}

func TestSQLShape(t *testing.T) {
	ann := auths["ann"]
	cases := []struct {
		src     string
		d       store.Dialect
		auth    expr.Auth
		sql     string
		args    string
		comment string
	}{
		{`views > 10 && published = true`, store.SQLite, nil,
			`("t"."views" > $3 AND "t"."published" = $4)`, `[10 true]`, "parameters from next"},
		{`views > 1.5`, store.Postgres, nil,
			`"t"."views" > CAST($3 AS double precision)`, `[1.5]`, "a fraction against a bigint column"},
		{`title != "x"`, store.SQLite, nil, `"t"."title" IS NOT $3`, `[x]`, "!= is true for null"},
		{`title != "x"`, store.Postgres, nil, `"t"."title" IS DISTINCT FROM $3`, `[x]`, ""},
		{`title = null || title != null`, store.SQLite, nil, `("t"."title" IS NULL OR "t"."title" IS NOT NULL)`, `[]`, ""},
		{`!(views > 5)`, store.SQLite, nil, `("t"."views" IS NULL OR NOT ("t"."views" > $3))`, `[5]`, "negation with null"},
		{`title ~ "50%_\\"`, store.SQLite, nil, `"t"."title" LIKE $3 ESCAPE '\'`, `[%50\%\_\\%]`, "LIKE escapes"},
		{`title ~ "a"`, store.Postgres, nil, `"t"."title" COLLATE "C" ILIKE $3 ESCAPE E'\\'`, `[%a%]`, "ASCII-only folding"},
		{`title > "a"`, store.Postgres, nil, `"t"."title" COLLATE "C" > $3`, `[a]`, "byte order"},
		{`created > "2026-01-01"`, store.SQLite, nil, `"t"."created" > $3`, `[2026-01-01T00:00:00.000Z]`, ""},
		{`created > "2026-01-01"`, store.Postgres, nil, `"t"."created" > $3`, `[2026-01-01 00:00:00 +0000 UTC]`, ""},
		{`tags = "go"`, store.SQLite, nil,
			`EXISTS (SELECT 1 FROM json_each("t"."tags") AS "e1" WHERE "e1"."value" = $3)`, `[go]`, ""},
		{`tags = "go"`, store.Postgres, nil, `"t"."tags" @> CAST(CAST($3 AS text) AS jsonb)`, `[["go"]]`, "GIN-friendly"},
		{`tags != "go"`, store.Postgres, nil,
			`("t"."tags" IS NULL OR NOT ("t"."tags" @> CAST(CAST($3 AS text) AS jsonb)))`, `[["go"]]`, ""},
		{`author.name = "ann"`, store.SQLite, nil,
			`EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND "r1"."name" = $3)`, `[ann]`, ""},
		{`editors.name != "ann"`, store.SQLite, nil,
			`NOT EXISTS (SELECT 1 FROM json_each("t"."editors") AS "e1" JOIN "c_users" AS "r1" ON "r1"."id" = "e1"."value" WHERE "r1"."name" = $3)`, `[ann]`, ""},
		{`author.friend.name = null`, store.SQLite, nil,
			`NOT EXISTS (SELECT 1 FROM "c_users" AS "r1" WHERE "r1"."id" = "t"."author" AND EXISTS (SELECT 1 FROM "c_users" AS "r2" WHERE "r2"."id" = "r1"."friend" AND "r2"."name" IS NOT NULL))`, `[]`, ""},
		{`"editor" in @request.auth.roles`, store.SQLite, ann, `TRUE`, `[]`, "folded"},
		{`"editor" in @request.auth.roles`, store.SQLite, nil, `FALSE`, `[]`, "folded"},
		{`"editor" in @request.auth.roles || author = @request.auth.id`, store.SQLite, ann, `TRUE`, `[]`, "folded"},
		{`views = 1 && "editor" in @request.auth.roles || published = true`, store.SQLite, nil,
			`"t"."published" = $3`, `[true]`, "no unused parameter left behind"},
		{`published = true && ("admin" in @request.auth.roles || author = @request.auth.id)`, store.SQLite, ann,
			`("t"."published" = $3 AND "t"."author" = $4)`, `[true u1]`, ""},
		{`author = @request.auth.id`, store.Postgres, nil, `FALSE`, `[]`, "anonymous owns nothing"},
		{`author != @request.auth.id`, store.Postgres, nil, `TRUE`, `[]`, ""},
		{`status in @request.auth.roles`, store.SQLite, ann, `"t"."status" IN ($3, $4)`, `[editor user]`, ""},
		{`created < @now`, store.SQLite, nil, `"t"."created" < $3`, `[2026-03-01T12:00:00.000Z]`, ""},
		{`meta ~ "x"`, store.SQLite, nil,
			`EXISTS (SELECT 1 FROM json_tree("t"."meta") AS "j1" WHERE "j1"."type" = 'text' AND "j1"."atom" LIKE $3 ESCAPE '\')`, `[%x%]`, ""},
	}
	for _, c := range cases {
		sql, args := compile(t, c.src, c.d, c.auth, 3)
		if sql != c.sql || fmt.Sprint(args) != c.args {
			t.Errorf("%s on %s (%s):\n got %s %v\nwant %s %s", c.src, c.d, c.comment, sql, args, c.sql, c.args)
		}
	}
}

func TestSQLArgTypes(t *testing.T) {
	_, args := compile(t, `views = 10 && rating = 2.5 && created = "2026-01-01" && published = false`, store.Postgres, nil, 1)
	if _, ok := args[0].(int64); !ok {
		t.Errorf("integral number bound as %T, want int64", args[0])
	}
	if _, ok := args[1].(float64); !ok {
		t.Errorf("fraction bound as %T, want float64", args[1])
	}
	if _, ok := args[2].(time.Time); !ok {
		t.Errorf("date bound on PostgreSQL as %T, want time.Time", args[2])
	}
	if _, ok := args[3].(bool); !ok {
		t.Errorf("bool bound as %T, want bool", args[3])
	}
}

func TestSQLEdges(t *testing.T) {
	if sql, args, err := expr.SQL(nil, schema, "posts", store.SQLite, nil, 1); sql != "TRUE" || args != nil || err != nil {
		t.Errorf("SQL(nil) = %q, %v, %v", sql, args, err)
	}
	n, _ := expr.Parse(`title = "x"`)
	if _, _, err := expr.SQL(n, schema, "posts", "oracle", nil, 1); err == nil {
		t.Error("SQL accepted an unknown dialect")
	}
	if _, _, err := expr.SQL(n, schema, "posts", store.SQLite, nil, 0); err == nil {
		t.Error("SQL accepted $0 as the first placeholder")
	}
	bad, _ := expr.Parse(`titel = "x"`)
	if _, _, err := expr.SQL(bad, schema, "posts", store.SQLite, nil, 1); err == nil {
		t.Error("SQL accepted an unknown field (it checks on its own)")
	}
}
