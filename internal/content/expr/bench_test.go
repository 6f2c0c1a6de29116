package expr_test

import (
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
