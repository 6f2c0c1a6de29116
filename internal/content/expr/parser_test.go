package expr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
)

func TestParse(t *testing.T) {
	cases := []struct{ src, want string }{
		{`title = "go"`, `title = "go"`},
		{`title='go'`, `title = "go"`},
		{` views>=10 `, `views >= 10`},
		{`views > -3.5`, `views > -3.5`},
		{`views < 1e3`, `views < 1000`},
		{`views < 1.5E-2`, `views < 0.015`},
		{`views = 007`, `views = 7`},
		{`a != b`, `a != b`},
		{`a ~ "x" && b !~ "y"`, `a ~ "x" && b !~ "y"`},
		{`a in ("x", 'y', 3)`, `a in ("x", "y", 3)`},
		{`a !in ("x")`, `a !in ("x")`},
		{`a!in("x")`, `a !in ("x")`},
		{`a in tags`, `a in tags`},
		{`in_stock`, `in_stock`},
		{`!in_stock`, `!in_stock`},
		{`!inx && inx`, `!inx && inx`},
		{`a = null || null != b`, `a = null || null != b`},
		{`a = true && b = false`, `a = true && b = false`},
		{`author.name = "x"`, `author.name = "x"`},
		{`a.b.c.d = 1`, `a.b.c.d = 1`},
		{`@now > created`, `@now > created`},
		{`author = @request.auth.id`, `author = @request.auth.id`},
		{`"editor" in @request.auth.roles`, `"editor" in @request.auth.roles`},
		{`a = 1 || b = 2 && c = 3`, `a = 1 || b = 2 && c = 3`},
		{`(a = 1 || b = 2) && c = 3`, `(a = 1 || b = 2) && c = 3`},
		{`a = 1 && (b = 2 && c = 3)`, `a = 1 && b = 2 && c = 3`},
		{`(a = 1 || (b = 2 || c = 3))`, `a = 1 || b = 2 || c = 3`},
		{`((a = 1))`, `a = 1`},
		{`!(a = 1)`, `!(a = 1)`},
		{`!(a)`, `!a`},
		{`!(!(a))`, `!(!a)`},
		{`!published && x = 1`, `!published && x = 1`},
		{`!@request.auth.verified`, `!@request.auth.verified`},
		{`true`, `true`},
		{`!false`, `!false`},
		{`a = "quote\" and \\ and \n\t\r"`, `a = "quote\" and \\ and \n\t\r"`},
		{`a = 'it\'s'`, `a = "it's"`},
		{`a = "\u00e9\u202e"`, `a = "é\u202e"`},
		{`a = "\ud83d\ude00"`, `a = "😀"`},
		{"a = \"\u00a0\"", `a = "\u00a0"`},
		{"a\t=\n1\r", `a = 1`},
		{``, ``},
		{`   `, ``},
	}
	for _, c := range cases {
		n, err := expr.Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		got := ""
		if n != nil {
			got = n.String()
		}
		if got != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.src, got, c.want)
		}
		if n == nil {
			continue
		}
		again, err := expr.Parse(got)
		if err != nil || again.String() != got {
			t.Errorf("Parse(%q) = %v, %v; want it to render as itself", got, again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src string
		pos int
		msg string
	}{
		{`title =`, 7, `expected a value after "=", found the end`},
		{`title = "x" &&`, 14, `expected a comparison, found the end`},
		{`title = "x" OR 1=1`, 12, `expected "&&", "||" or the end, found "OR"`},
		{`title == "x"`, 6, `unexpected "==": equality is "="`},
		{`a = 1 & b = 2`, 6, `unexpected "&": "and" is "&&"`},
		{`a = 1 | b = 2`, 6, `unexpected "|": "or" is "||"`},
		{`title = "x`, 8, `unterminated string`},
		{`title = "x\`, 10, `unterminated string`},
		{`a = "\q"`, 5, `unknown escape "\q"`},
		{`a = "\u12"`, 5, `expected four hex digits after "\u"`},
		{`a = "\ud83d"`, 5, `unpaired surrogate`},
		{`a = "\u0000"`, 5, `strings cannot contain NUL`},
		{"a = \"\x00\"", 5, `unexpected NUL byte`},
		{"a = \"\xff\"", 5, `invalid UTF-8`},
		{`a = 1.`, 6, `expected digits after "."`},
		{`a = -`, 4, `expected digits after "-"`},
		{`a = 1e`, 6, `expected digits in the exponent`},
		{`a = 12abc`, 6, `unexpected "a" after a number`},
		{`a = 1e999`, 4, `number 1e999 is out of range`},
		{`a.`, 1, `expected a name after "."`},
		{`a..b = 1`, 1, `expected a name after "."`},
		{`a.b.c.d.e = 1`, 0, `follows more than 3 relations`},
		{`@foo = 1`, 0, `unknown reference "@foo"`},
		{`@request.auth.password = 1`, 0, `unknown reference "@request.auth.password"`},
		{`@request.query.x = 1`, 0, `unknown reference`},
		{`@ = 1`, 0, `expected a name after "@"`},
		{`a = (1, 2)`, 4, `expected a value after "=", found "("`},
		{`a in ()`, 6, `expected a string, number or bool in the list, found ")"`},
		{`a in (1 2)`, 8, `expected "," or ")", found "2"`},
		{`a in (null)`, 6, `expected a string, number or bool in the list, found "null"`},
		{`a in (b)`, 6, `expected a string, number or bool in the list, found "b"`},
		{`(a = 1`, 6, `expected ")", found the end`},
		{`a = 1)`, 5, `expected "&&", "||" or the end, found ")"`},
		{`!views > 5`, 7, `"!" applies to a bool field or a parenthesised expression`},
		{`!!a`, 1, `expected "(" or a bool field after "!"`},
		{`! "x"`, 2, `expected "(" or a bool field after "!"`},
		{`"x"`, 3, `expected an operator after "x"`},
		{`5 && a`, 2, `expected an operator after 5`},
		{`null`, 4, `expected an operator after null`},
		{`a = b = c`, 6, `expected "&&", "||" or the end, found "="`},
		{`title; DROP TABLE c_posts`, 5, `unexpected character ';'`},
		{`title = "x" -- comment`, 12, `expected digits after "-"`},
		{`title = "x" /* c */`, 12, `unexpected character '/'`},
		{"titl\u0435 = \"x\"", 4, `unexpected character 'е' (U+0435)`},
		{"title\u200f = \"x\"", 5, `(U+200F)`},
		{"title\u00a0= \"x\"", 5, `(U+00A0)`},
		{`&& a = 1`, 0, `expected a comparison, found "&&"`},
		{`a = 1 && || b = 1`, 9, `expected a comparison, found "||"`},
	}
	for _, c := range cases {
		n, err := expr.Parse(c.src)
		var e *expr.Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, %v; want an *expr.Error", c.src, n, err)
			continue
		}
		if e.Pos != c.pos || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("Parse(%q): at %d: %s; want at %d: …%s…", c.src, e.Pos, e.Msg, c.pos, c.msg)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := expr.Parse(`title = "x" && views =`)
	if got, want := err.Error(), `filter: at 22: expected a value after "=", found the end`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseLimits(t *testing.T) {
	ok := func(src string) {
		t.Helper()
		if _, err := expr.Parse(src); err != nil {
			t.Errorf("Parse(%.40q…): %v", src, err)
		}
	}
	fails := func(src, msg string) {
		t.Helper()
		_, err := expr.Parse(src)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%.40q…) = %v, want an error containing %q", src, err, msg)
		}
	}
	long := `title = "` + strings.Repeat("x", expr.MaxSource-10) + `"`
	ok(long)
	fails(long+" ", "longer than 4096 bytes")

	ok(strings.Repeat("(", 32) + "a = 1" + strings.Repeat(")", 32))
	fails(strings.Repeat("(", 33)+"a = 1"+strings.Repeat(")", 33), "nested deeper than 32 levels")
	ok(strings.Repeat("!(", 32) + "a" + strings.Repeat(")", 32))
	fails(strings.Repeat("!(", 33)+"a"+strings.Repeat(")", 33), "nested deeper than 32 levels")
	fails(strings.Repeat("(", 2000), "nested deeper than 32 levels")

	cmps := func(n int) string { return strings.TrimSuffix(strings.Repeat("a = 1 && ", n), " && ") }
	ok(cmps(128))
	fails(cmps(129), "more than 128 comparisons")
	ok(`a in (` + strings.TrimSuffix(strings.Repeat("1,", 1000), ",") + `)`)
}

func TestRefs(t *testing.T) {
	n, err := expr.Parse(`title = "x" && (author.name = @request.auth.id || !published) && title != author.name && "a" in editors.friend.name`)
	if err != nil {
		t.Fatal(err)
	}
	got := expr.Refs(n)
	want := []string{"title", "author.name", "published", "editors.friend.name"}
	if len(got) != len(want) {
		t.Fatalf("Refs = %v, want %v", got, want)
	}
	for i := range want {
		if strings.Join(got[i], ".") != want[i] {
			t.Errorf("Refs[%d] = %v, want %s", i, got[i], want[i])
		}
	}
	if expr.Refs(nil) != nil {
		t.Errorf("Refs(nil) = %v", expr.Refs(nil))
	}
}
