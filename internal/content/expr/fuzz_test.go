package expr_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

func fuzzSeeds() []string {
	seeds := []string{
		``, `title = "x"`, `!(a)`, `a in ("x", 1)`, `"\ud83d\ude00" ~ title`, `views > -1e3`, `@request.auth.roles ~ "a"`,
		`created > "2026-01-01T00:00:00+02:00"`, `!published || tags !in ("a")`, `meta ~ '\'\\'`, `a.b.c.d = null`,
	}
	for _, c := range handCases() {
		seeds = append(seeds, c.src)
	}
	return seeds
}

// FuzzParse: no panic; what parses renders as a string that parses to the
// same rendering; the SQL of what checks is made only of the compiler's
// own words, schema identifiers and placeholders — so no value of the
// expression can be in it — with one argument per placeholder, with view
// rules on relations (a Guarded schema) or without.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	schemas := []expr.Schema{schema}
	for _, rule := range userRules {
		schemas = append(schemas, newGuarded(f, rule))
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := expr.Parse(src)
		if err != nil || n == nil {
			return
		}
		s := n.String()
		again, err := expr.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", src, s, err)
		}
		if again.String() != s {
			t.Fatalf("Parse(%q) = %q, which renders as %q", src, s, again.String())
		}
		if expr.Check(n, schema, "posts") != nil {
			return
		}
		for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
			for _, name := range authNames {
				for i, sch := range schemas {
					sql, args, err := expr.SQLAt(n, sch, "posts", d, auths[name], 1, testNow)
					if err != nil {
						t.Fatalf("SQL(%q) on %s, schema %d: %v", s, d, i, err)
					}
					if err := sqlVocabulary(sql, len(args)); err != nil {
						t.Fatalf("SQL(%q) on %s, schema %d = %s: %v", s, d, i, sql, err)
					}
				}
			}
			if _, err := expr.EvalAt(n, nil, nil, testNow); err != nil {
				t.Fatalf("Eval(%q): %v", s, err)
			}
		}
	})
}

// FuzzEval: no panic for any expression over any record values.
func FuzzEval(f *testing.F) {
	ds := newDataset()
	for _, s := range fuzzSeeds() {
		f.Add(s, "Hello", 10.0, true, "go", "2026-01-01T00:00:00.000Z", "u1")
	}
	f.Add(`created > "2026-01-01"`, "", -1.0, false, "", "not a date", "u404")
	f.Fuzz(func(t *testing.T, src, title string, views float64, published bool, tag, created, author string) {
		n, err := expr.Parse(src)
		if err != nil || n == nil || expr.Check(n, schema, "posts") != nil {
			return
		}
		rec := record{ds: ds, collection: "posts", row: row{
			"id": "f1", "title": title, "views": views, "published": published, "tags": list(tag, title),
			"created": created, "author": author, "editors": list(author, "u2"), "meta": map[string]any{"t": list(title)},
		}}
		for _, name := range authNames {
			if _, err := expr.EvalAt(n, rec, auths[name], testNow); err != nil {
				t.Fatalf("Eval(%q): %v", src, err)
			}
		}
	})
}

// The words the compiler writes, besides schema identifiers and
// placeholders.
var (
	sqlWords = map[string]bool{}
	sqlConst = map[string]bool{}
	sqlIdent = regexp.MustCompile(`^"(t|[rej][0-9]+|value|v|type|atom|C|c_posts|c_users)"$`)
	sqlToken = regexp.MustCompile(`^(\s+|"(?:[^"]|"")*"|E?'(?:[^']|'')*'|\$[0-9]+|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|@>|#>>|\|\||<=|>=|<>|!=|[()=<>,.])`)
)

func init() {
	for _, w := range strings.Fields(`SELECT 1 FROM WHERE AND OR NOT EXISTS IS NULL IN LIKE ILIKE ESCAPE COLLATE AS JOIN ON
		TRUE FALSE CAST double precision text jsonb DISTINCT json_each json_tree jsonb_array_elements_text jsonb_path_query
		jsonb_typeof replace instr lower`) {
		sqlWords[w] = true
	}
	for _, c := range []string{`'\'`, `'\\'`, `'%'`, `'_'`, `'\%'`, `'\_'`, `E'\\'`, `E'\\\\'`, `E'\\%'`, `E'\\_'`, `'text'`,
		`'string'`, `'strict $.**'`, `'{}'`} {
		sqlConst[c] = true
	}
}

// sqlVocabulary checks that sql is made only of the compiler's words and
// that its placeholders are $1…$nargs in order.
func sqlVocabulary(sql string, nargs int) error {
	next := 1
	for rest := sql; rest != ""; {
		tok := sqlToken.FindString(rest)
		if tok == "" {
			return fmt.Errorf("unexpected text at %q", rest)
		}
		rest = rest[len(tok):]
		switch c := tok[0]; {
		case c == ' ' || c == '\t' || c == '\n':
		case c == '"':
			if !sqlIdent.MatchString(tok) && !isSchemaColumn(tok) {
				return fmt.Errorf("identifier %s is not the schema's", tok)
			}
		case c == '\'' || c == 'E' && len(tok) > 1 && tok[1] == '\'':
			if !sqlConst[tok] {
				return fmt.Errorf("string constant %s is not the compiler's", tok)
			}
		case c == '$':
			if tok != "$"+strconv.Itoa(next) {
				return fmt.Errorf("placeholder %s, want $%d", tok, next)
			}
			next++
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_':
			if !sqlWords[tok] {
				return fmt.Errorf("word %s is not the compiler's", tok)
			}
		case c >= '0' && c <= '9':
			if tok != "1" {
				return fmt.Errorf("number %s in the SQL text", tok)
			}
		}
	}
	if next-1 != nargs {
		return fmt.Errorf("%d placeholders for %d arguments", next-1, nargs)
	}
	return nil
}

func isSchemaColumn(quoted string) bool {
	name := strings.Trim(quoted, `"`)
	_, posts := schema["posts"][name]
	_, users := schema["users"][name]
	return posts || users
}
