package expr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
)

func TestCheckAccepts(t *testing.T) {
	for _, src := range []string{
		`title = "x"`, `title = null`, `null = title`, `views > 1.5`, `views in (1, 2)`, `published`, `!published`,
		`published = true`, `created > "2026-01-01"`, `created > "2026-01-01 10:00:00"`, `created = "2026-01-01T10:00:00+02:00"`,
		`created < @now`, `created in ("2026-01-01", "2026-01-02")`, `updated > created`,
		`tags = "go"`, `tags ~ "g"`, `"go" in tags`, `tags = null`, `tags > "a"`,
		`meta = null`, `meta != null`, `meta ~ "x"`, `meta !~ title`, `meta ~ @request.auth.email`,
		`author = @request.auth.id`, `author.name = "x"`, `author.friend.friend.name = "x"`, `editors.friend.skills ~ "go"`,
		`author.friend.friend.friend = "u1"`, `editors.age > 3`, `author in editors`,
		`"editor" in @request.auth.roles`, `@request.auth.roles ~ "adm"`, `status in @request.auth.permissions`,
		`@request.auth.verified`, `@request.auth.verified = true`, `@request.auth.id = null`, `@request.auth.kind = "user"`,
		`null = null`, `1 = 1`, `"a" = "b"`, `@now > "2026-01-01"`, `true`, `!false`,
		`views > rating`, `title ~ status`, `"abc" ~ title`, `id > "x"`, `version = 1`,
	} {
		n, err := expr.Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if err := expr.Check(n, schema, "posts"); err != nil {
			t.Errorf("Check(%q): %v", src, err)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	cases := []struct {
		src string
		pos int
		msg string
	}{
		{`titel = "x"`, 0, `unknown field "titel"`},
		{`title = "x" && author.nam = "y"`, 15, `unknown field "author.nam"`},
		{`views = "x"`, 6, `cannot compare number field "views" with text "x"`},
		{`"x" = views`, 4, `cannot compare text "x" with number field "views"`},
		{`title = 5`, 6, `cannot compare text field "title" with number 5`},
		{`title = true`, 6, `cannot compare text field "title" with bool true`},
		{`published = 1`, 10, `cannot compare bool field "published" with number 1`},
		{`views = title`, 6, `cannot compare number field "views" with text field "title"`},
		{`created = views`, 8, `cannot compare date field "created" with number field "views"`},
		{`created = @request.auth.id`, 8, `cannot compare date field "created" with @request.auth.id`},
		{`created > "yesterday"`, 10, `invalid date "yesterday"`},
		{`created > "2026-13-01"`, 10, `invalid date`},
		{`created > "0000-01-01"`, 10, `invalid date`},
		{`created in ("2026-01-01", "nope")`, 26, `invalid date "nope"`},
		{`views ~ "1"`, 6, `operator "~" needs text, not number field "views"`},
		{`created !~ "2026"`, 8, `operator "!~" needs text, not date field "created"`},
		{`published > false`, 10, `operator ">" does not apply to bool values`},
		{`views > null`, 6, `null can only be compared with = or !=, not ">"`},
		{`title ~ null`, 6, `null can only be compared with = or !=`},
		{`title in "x"`, 9, `the right side of "in" must be a list, a multi field or @request.auth.roles/permissions, not text "x"`},
		{`title !in author`, 10, `the right side of "!in" must be a list`},
		{`views in ("a")`, 6, `cannot compare number field "views" with list ("a")`},
		{`views in (1, "a")`, 13, `list mixes number and text values`},
		{`meta = "x"`, 5, `json field "meta" can only be compared with null or searched with ~`},
		{`meta > "x"`, 5, `json field "meta"`},
		{`meta ~ 5`, 5, `json field "meta"`},
		{`"x" ~ meta`, 4, `json field "meta"`},
		{`meta ~ author.profile`, 5, `json field`},
		{`title`, 0, `text field "title" is not bool`},
		{`!views`, 1, `number field "views" is not bool`},
		{`@now`, 0, `@now is not bool`},
		{`!@request.auth.id`, 1, `@request.auth.id is not bool`},
		{`title.name = "x"`, 0, `field "title" is not a relation: cannot follow it to "name"`},
		{`author.name.x = "y"`, 0, `field "author.name" is not a relation`},
		{`c_posts.title = "x"`, 0, `unknown field "c_posts"`},
		{`t.title = "x"`, 0, `unknown field "t"`},
		{`Title = "x"`, 0, `unknown field "Title"`},
		{`title = x`, 8, `unknown field "x"`},
		{`@request.auth.roles > "a" && views ~ "x"`, 35, `needs text`},
		{`@request.auth.verified = "yes"`, 23, `cannot compare @request.auth.verified with text "yes"`},
	}
	for _, c := range cases {
		n, err := expr.Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		err = expr.Check(n, schema, "posts")
		var e *expr.Error
		if !errors.As(err, &e) {
			t.Errorf("Check(%q) = %v, want an *expr.Error", c.src, err)
			continue
		}
		if e.Pos != c.pos || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("Check(%q): at %d: %s; want at %d: …%s…", c.src, e.Pos, e.Msg, c.pos, c.msg)
		}
	}
}

func TestCheckSchemaProblems(t *testing.T) {
	n, _ := expr.Parse(`title = "x"`)
	if err := expr.Check(n, schema, "nope"); err == nil || !strings.Contains(err.Error(), `unknown collection "nope"`) {
		t.Errorf("Check in an unknown collection = %v", err)
	}
	bad := testSchema{
		"posts": {
			"weird":  {Column: "a\x00b", Kind: expr.KindText},
			"nums":   {Column: "nums", Kind: expr.KindNumber, Multi: true},
			"broken": {Column: "broken", Kind: expr.KindText, Target: "missing"},
			"odd":    {Column: "odd", Kind: expr.Kind(42)},
		},
	}
	for src, msg := range map[string]string{
		`weird = "x"`:       `invalid column name`,
		`nums = 1`:          `multi number field "nums" is not supported`,
		`broken.name = "x"`: `relation "broken" targets unknown collection "missing"`,
		`odd = odd`:         `field "odd" has an unknown kind 42`,
	} {
		n, _ := expr.Parse(src)
		if err := expr.Check(n, bad, "posts"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Check(%q) = %v, want …%s…", src, err, msg)
		}
	}
}

func TestEvalNeedsCheck(t *testing.T) {
	n, _ := expr.Parse(`title = "x"`)
	if _, err := expr.Eval(n, nil, nil); err == nil {
		t.Error("Eval of an unchecked expression succeeded")
	}
	if ok, err := expr.Eval(nil, nil, nil); !ok || err != nil {
		t.Errorf("Eval(nil) = %v, %v; want true", ok, err)
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		t.Fatal(err)
	}
	if ok, err := expr.Eval(n, nil, nil); ok || err != nil {
		t.Errorf("Eval over a nil record = %v, %v; want false (title is null)", ok, err)
	}
}
