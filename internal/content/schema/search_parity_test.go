package schema_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// searchCases are texts, queries and whether the query finds the text:
// the same on both dialects.
var searchCases = []struct {
	text, query string
	match       bool
}{
	// Emails, URLs, hosts, paths and decimals are words like any other.
	{"write to ann.lee@example.com today", "ann", true},
	{"write to ann.lee@example.com today", "example", true},
	{"write to ann.lee@example.com today", "lee example", true},
	{"write to ann.lee@example.com today", "ann.lee@example.com", true},
	{"write to ann.lee@example.com today", "annlee", false},
	{"see https://www.example.org/docs/page?id=42#top", "docs", true},
	{"see https://www.example.org/docs/page?id=42#top", "page 42", true},
	{"see https://www.example.org/docs/page?id=42#top", "https", true},
	{"see https://www.example.org/docs/page?id=42#top", "www.example.org", true},
	{"server db1.internal.net is up", "internal", true},
	{"server db1.internal.net is up", "db1", true},
	{"pi is 3.14159", "14159", true},
	{"pi is 3.14159", "3.14159", true},
	{"pi is 3.14159", "314159", false},
	{"version 1.2.3-beta", "beta", true},
	{"in /usr/local/bin", "local", true},
	{"state-of-the-art", "art", true},
	{"state-of-the-art", "state of", true},
	{"snake_case_name", "case", true},
	{"O'Reilly books", "reilly", true},
	{"O'Reilly books", "o'reilly", true},
	{"O'Reilly books", "oreilly", false},
	{"tag <b>bold</b> &amp; more", "bold", true},
	{"tag <b>bold</b> &amp; more", "amp", true},
	{"C++ and C#", "c", true},
	{"price: $20/month", "month", true},
	{"1e5 and 007", "1e5", true},
	{"1e5 and 007", "007", true},
	// Diacritics of Latin letters are folded, in the text and the query.
	{"Crème Brûlée", "creme", true},
	{"Crème Brûlée", "brulee", true},
	{"Crème Brûlée", "CRÈME brûlée", true},
	{"naïve", "naive", true},
	{"cafe", "café", true},
	{"Phở bò", "pho", true},
	{"ÉCOLE", "ecole", true},
	{"İstanbul", "istanbul", true},
	{"cafe\u0301s", "cafes", true}, // decomposed (Encode stores NFC)
	// Other letters keep theirs; case folds.
	{"Straße", "straße", true},
	{"Straße", "strasse", false},
	{"άλφα", "άλφα", true},
	{"άλφα", "αλφα", false},
	{"Йод", "йод", true},
	{"Йод", "иод", false},
	{"日本語", "日本語", true},
	{"naïve—dash", "dash", true},
	// The last term is a prefix from 3 characters on.
	{"postgres", "pos", true},
	{"postgres", "po", false},
	{"postgres", "p", false},
	{"postgres", "postgres", true},
	{"go gopher", "go", true},
	{"gopher", "go", false},
	{"gopher", "gop", true},
	{"postgres tuning", "pos tun", false}, // earlier terms are whole words
	{"postgres tuning", "postgres tun", true},
	{"crème", "crè", true},
	// Terms without a letter or digit are no terms.
	{"caf", "caf \u0301", true},
	{"caf", "\u0301 caf", true},
}

func TestSearchParity(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	results := map[store.Dialect]map[int]bool{}
	t.Cleanup(func() {
		if len(results) == 2 && !maps.Equal(results[store.SQLite], results[store.Postgres]) {
			for i, c := range searchCases {
				if results[store.SQLite][i] != results[store.Postgres][i] {
					t.Errorf("%q finds %q on SQLite: %v, on PostgreSQL: %v", c.query, c.text, results[store.SQLite][i], results[store.Postgres][i])
				}
			}
		}
	})
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "body", Type: schema.Text, Searchable: true}}})
		ids := map[string]string{}
		for _, c := range searchCases {
			if _, ok := ids[c.text]; !ok {
				ids[c.text] = e.insert(docs, map[string]any{"body": c.text}, "")
			}
		}
		got := map[int]bool{}
		for i, c := range searchCases {
			got[i] = slices.Contains(e.search(docs, c.query), ids[c.text])
			if got[i] != c.match {
				t.Errorf("%q finds %q: %v, want %v", c.query, c.text, got[i], c.match)
			}
		}
		mu.Lock()
		results[e.db.Dialect()] = got
		mu.Unlock()
	})
}

func TestSearchTerms(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"Hello, World":          "[hello world]",
		"ann.lee@example.com":   "[ann lee example com]",
		"cafe\u0301 CRÈME":      "[café crème]",
		"\u0301 x \u0301\u0302": "[x]",
		"3.14":                  "[3 14]",
	} {
		terms, err := schema.SearchTerms(q)
		if err != nil || fmt.Sprint(terms) != want {
			t.Errorf("SearchTerms(%q) = %q, %v; want %s", q, terms, err, want)
		}
	}
	if _, err := schema.SearchTerms("\u0301 \u0302"); err == nil {
		t.Error("a query of marks only has terms")
	}
}

// TestFoldDiacritics: Go folds search terms exactly as PostgreSQL's search
// column folds text.
func TestFoldDiacritics(t *testing.T) {
	t.Parallel()
	folds := map[string]string{
		"crème": "creme", "brûlée": "brulee", "phở": "pho", "ǖ": "u", "ṩ": "s", "cafe\u0301": "cafe", "école": "ecole",
		"a\u0301\u0300": "a", "i\u0307stanbul": "istanbul", "ǡ": "a",
		"ά": "ά", "й": "й", "straße": "straße", "ø": "ø", "日本語": "日本語",
		"x\u0301\u1dc0\u0301": "x\u1dc0\u0301", // only the marks right after the letter
	}
	for term, want := range folds {
		if got := schema.FoldDiacritics(term); got != want {
			t.Errorf("FoldDiacritics(%q) = %q, want %q", term, got, want)
		}
	}
	run(t, func(t *testing.T, e *env) {
		if e.db.Dialect() != store.Postgres {
			t.Skip("SQLite folds in FTS5")
		}
		for term := range folds {
			var folded string
			if err := e.db.SQL().QueryRowContext(e.ctx(), "SELECT "+schema.SearchText("CAST($1 AS text)"), term).Scan(&folded); err != nil {
				t.Fatal(err)
			}
			if want := schema.FoldDiacritics(term); folded != want {
				t.Errorf("%q: PostgreSQL folds it to %q, Go to %q", term, folded, want)
			}
		}
	})
}
