package schema_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{
			{Name: "title", Type: schema.Text, Searchable: true},
			{Name: "body", Type: schema.Text, Searchable: true},
			{Name: "hidden", Type: schema.Text},
			{Name: "kind", Type: schema.Select, Values: []string{"guide", "note"}, Searchable: true},
		}})
		a := e.insert(docs, map[string]any{"title": "Go go go", "body": "Go databases", "kind": "guide"}, "")
		b := e.insert(docs, map[string]any{"title": "A long note", "body": "about go and many other words that make this body longer than the first one", "kind": "note"}, "")
		c := e.insert(docs, map[string]any{"title": "PostgreSQL tuning", "body": "it's about indexes; O'Reilly", "hidden": "secretword"}, "")
		tests := []struct {
			query string
			want  []string // in rank order when more than one
		}{
			{"go", []string{a, b}},
			{"GO", []string{a, b}},
			{"go databases", []string{a}},
			{"post", []string{c}},           // prefix on the last term
			{"postgresql tun", []string{c}}, // prefix on the last term only
			{"tun postgresql", nil},         // earlier terms are whole words
			{"guide", []string{a}},          // select fields are searchable
			{"secretword", nil},             // not a searchable field
			{"o'reilly", []string{c}},       // punctuation splits words
			{"it's", []string{c}},
			{`go" OR "x`, nil},        // quotes cannot break out
			{"go OR postgresql", nil}, // OR is a word, all words required
			{"NOT go", nil},
			{"title:go", nil}, // no column filters: title is a word
			{"go*", []string{a, b}},
			{"NEAR(go databases)", nil}, // near is a word
			{"go'; DROP TABLE c_docs; --", nil},
			{"-- go", []string{a, b}},
		}
		for _, tt := range tests {
			got := e.search(docs, tt.query)
			if len(tt.want) > 1 {
				if !slices.Equal(got, tt.want) {
					t.Errorf("search %q = %v, want %v in that order", tt.query, got, tt.want)
				}
			} else if !sameSet(got, tt.want) {
				t.Errorf("search %q = %v, want %v", tt.query, got, tt.want)
			}
		}
		if e.count("c_docs", "") != 3 {
			t.Error("rows lost")
		}
		// Changes that leave the searchable fields alone keep the index and
		// its triggers working.
		next := e.edit("docs")
		next.Fields[2].Name = "secret" // hidden, not searchable
		next.Fields = append(next.Fields, schema.Field{Name: "extra", Type: schema.Number})
		docs = e.update("docs", next)
		next = e.edit("docs")
		next.Fields = slices.DeleteFunc(next.Fields, func(f schema.Field) bool { return f.Name == "secret" })
		docs = e.update("docs", next)
		d := e.insert(docs, map[string]any{"title": "fresh words", "extra": 1.0}, "")
		if got := e.search(docs, "fresh"); !slices.Equal(got, []string{d}) {
			t.Errorf("search after unrelated changes = %v, want [%v]", got, d)
		}
		if got := e.search(docs, "postgresql"); !slices.Equal(got, []string{c}) {
			t.Errorf("old rows after unrelated changes = %v, want [%v]", got, c)
		}
		for _, q := range []string{"", "   ", "'\"*()-:^", strings.Repeat("a ", 600), strings.Repeat("w ", schema.MaxSearchTerms+1)} {
			_, _, _, err := schema.SearchSQL(docs, e.db.Dialect(), q, 1)
			if got := fieldErrors(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "search: ") {
				t.Errorf("SearchSQL(%.20q) errors = %q, want one about search", q, got)
			}
		}
	})
}

func TestSearchSQLText(t *testing.T) {
	t.Parallel()
	c := &schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "title", Type: schema.Text, Searchable: true}}}
	evil := `x'); DROP TABLE c_docs; --`
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		cond, rank, args, err := schema.SearchSQL(c, d, evil, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{cond, rank} {
			if strings.Contains(s, "DROP") || strings.Contains(s, "x'") {
				t.Errorf("%s: SQL %q carries the query", d, s)
			}
		}
		if !strings.Contains(cond, "$3") || !strings.Contains(rank, "$3") || strings.Contains(cond+rank, "$4") || len(args) != 1 {
			t.Errorf("%s: cond %q rank %q args %v: want $3 and one argument", d, cond, rank, args)
		}
		s, err := schema.CompileSearch(c, d, evil, 3)
		if err != nil {
			t.Fatal(err)
		}
		if sql := s.Join + s.Cond + s.Rank; strings.Contains(sql, "DROP") || !strings.Contains(sql, "$3") || strings.Contains(sql, "$4") || len(s.Args) != 1 {
			t.Errorf("%s: CompileSearch = %+v", d, s)
		}
	}
	_, _, _, err := schema.SearchSQL(&schema.Collection{Name: "plain"}, store.SQLite, "x", 1)
	if e := errs.As(err); e == nil || e.Code != schema.CodeInvalidSearch || e.Kind != errs.Invalid {
		t.Errorf("unsearchable collection: %v", err)
	}
}

// TestSearchScales: the join form ranks many matches in one pass (the
// per-row bm25 subquery took minutes for 17,000 matches).
func TestSearchScales(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite, schema.Migrations)
	reg := schema.NewRegistry(db)
	e := &env{t: t, db: db, reg: reg}
	docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "title", Type: schema.Text, Searchable: true}}})
	const n = 10000
	// One statement, so that the race detector does not make filling the
	// table the slow part.
	_, err := db.SQL().ExecContext(t.Context(), `INSERT INTO c_docs (id, created, updated, version, title)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
		SELECT printf('%05d', i), '', '', 1, 'common word ' || i || ' ' || substr('common common common common ', 1, 7 * (i % 5)) FROM n`, n)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := schema.CompileSearch(docs, store.SQLite, "common", 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := e.ordered("SELECT t.id FROM c_docs t "+s.Join+" ORDER BY "+s.Rank+" DESC, t.id LIMIT 3", s.Args...)
	if took := time.Since(start); took > 30*time.Second { // minutes when quadratic; up to 10 s seen under -race on a loaded machine
		t.Errorf("ranking %d matches took %v", n, took)
	}
	if len(ids) != 3 || ids[0] != "00004" { // most occurrences, shortest id among them
		t.Errorf("top matches = %v, want 00004 first", ids)
	}
}
