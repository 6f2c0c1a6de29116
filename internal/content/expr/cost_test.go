package expr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

func TestCost(t *testing.T) {
	cases := []struct {
		src  string
		want int
	}{
		{``, 0},
		{`title = "x"`, 1},
		{`published`, 1},
		{`!published && !(views > 1 || views < -1)`, 3},
		{`title in ("a", "b", "c")`, 3},
		{`title !in ("a") || tags in @request.auth.roles`, 2},
		{`views in (` + strings.TrimSuffix(strings.Repeat("1,", 1000), ",") + `) && title ~ "x"`, 1001},
	}
	for _, c := range cases {
		n, err := expr.Parse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := expr.Cost(n); got != c.want {
			t.Errorf("Cost(%s) = %d, want %d", c.src, got, c.want)
		}
	}
}

// TestLiteralsAreNFC: records hold text in NFC (the schema's Encode
// normalises it), so a literal written decomposed must find it.
func TestLiteralsAreNFC(t *testing.T) {
	src := "title = \"cafe\u0301\" || title ~ \"E\u0301COLE\" || status in (\"a\u0308\", \"b\")"
	n, err := expr.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := expr.Check(n, schema, "posts"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []row{{"title": "café"}, {"title": "L'ÉCOLE"}, {"status": "ä"}} {
		ok, err := expr.EvalAt(n, record{ds: newDataset(), collection: "posts", row: r}, nil, testNow)
		if err != nil || !ok {
			t.Errorf("%s over %v = %v, %v; want true", src, r, ok, err)
		}
	}
	_, args, err := expr.SQLAt(n, schema, "posts", store.SQLite, nil, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(args), "[café %ÉCOLE% ä b]"; got != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
}
