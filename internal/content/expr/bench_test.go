package expr_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

// benchRule is a typical access rule with a filter on top.
const benchRule = `published = true && (author = @request.auth.id || "editor" in @request.auth.roles) && title ~ "go" && views >= 10 && created > "2026-01-01"`

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := expr.Parse(benchRule); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	n, err := expr.Parse(benchRule)
	if err != nil {
		b.Fatal(err)
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		b.Fatal(err)
	}
	ds := newDataset()
	rec := record{ds: ds, collection: "posts", row: ds.posts[0]}
	auth := auths["bob"]
	for b.Loop() {
		if _, err := expr.EvalAt(n, rec, auth, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQL(b *testing.B) {
	n, err := expr.Parse(benchRule)
	if err != nil {
		b.Fatal(err)
	}
	auth := auths["bob"]
	for b.Loop() {
		if _, _, err := expr.SQLAt(n, schema, "posts", store.Postgres, auth, 1, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// longText is a 100,000-character title of mixed case.
var longText = func() string {
	s := strings.Repeat("The Quick brown fox jumps over the LAZY dog. ", 100_000/45+1)
	return s[:100_000]
}()

// BenchmarkEvalContains: 128 searches of a 100,000-character text, none
// of which finds its text (every "LAZY" in it is a candidate).
func BenchmarkEvalContains(b *testing.B) {
	terms := make([]string, expr.MaxComparisons)
	for i := range terms {
		terms[i] = fmt.Sprintf(`title ~ "lazy dog%c%c"`, 'a'+i/26, 'a'+i%26)
	}
	benchEval(b, strings.Join(terms, " || "), row{"id": "x", "title": longText})
}

// BenchmarkEvalIn: a value looked up in a list of 1,000 literals.
func BenchmarkEvalIn(b *testing.B) {
	items := make([]string, 1000)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	benchEval(b, "views in ("+strings.Join(items, ",")+")", row{"id": "x", "views": 5000.0})
}

func benchEval(b *testing.B, src string, r row) {
	n, err := expr.Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		b.Fatal(err)
	}
	rec := record{ds: newDataset(), collection: "posts", row: r}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := expr.EvalAt(n, rec, nil, testNow); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
