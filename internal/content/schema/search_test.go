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
	err := db.InTx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(t.Context(), `INSERT INTO c_docs (id, created, updated, version, title)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
			SELECT printf('%05d', i), '', '', 1, 'common word ' || i || ' ' || substr('common common common common ', 1, 7 * (i % 5)) FROM n`, n)
		schema.IndexPending(tx, docs)
		return err
	})
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

// TestSearchIndexPerTransaction: on SQLite a transaction's inserts enter
// the full-text index together before it commits (schema.IndexPending).
// Updates and deletes of rows inserted earlier in the same transaction,
// and of older rows, leave an index that matches the table (FTS5's
// integrity check compares the two); rows inserted behind bam's back are
// indexed at the next start (PrepareSearch); a collection made with the
// earlier triggers is given the new ones then and keeps its index.
func TestSearchIndexPerTransaction(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite, schema.Migrations)
	reg := schema.NewRegistry(db)
	e := &env{t: t, db: db, reg: reg}
	if err := reg.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{
		{Name: "title", Type: schema.Text, Searchable: true}, {Name: "n", Type: schema.Number}}})
	exec := func(tx *store.Tx, q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, want map[string][]string) {
		t.Helper()
		if _, err := db.SQL().ExecContext(t.Context(), "INSERT INTO c_docs_fts (c_docs_fts, rank) VALUES ('integrity-check', 1)"); err != nil {
			t.Errorf("%s: the index does not match the table: %v", when, err)
		}
		for q, ids := range want {
			if got := e.search(docs, q); !sameSet(got, ids) {
				t.Errorf("%s: search %q = %v, want %v", when, q, got, ids)
			}
		}
		if n := e.count("c_docs_fts_new", ""); n != 0 {
			t.Errorf("%s: %d rows left pending", when, n)
		}
	}

	var a, b, c string
	err := db.InTx(t.Context(), func(tx *store.Tx) (err error) {
		ins := func(title string) string {
			id, err := e.insertIn(tx, docs, map[string]any{"title": title}, "")
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		a, b, c = ins("alpha apple"), ins("bravo banana"), ins("charlie cherry")
		exec(tx, "UPDATE c_docs SET title = 'alpha avocado' WHERE id = $1", a)
		exec(tx, "UPDATE c_docs SET n = 1 WHERE id = $1", c) // not a searchable column
		exec(tx, "DELETE FROM c_docs WHERE id = $1", b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("one transaction", map[string][]string{"apple": nil, "avocado": {a}, "bravo": nil, "cherry": {c}})

	err = db.InTx(t.Context(), func(tx *store.Tx) error {
		d, err := e.insertIn(tx, docs, map[string]any{"title": "delta date"}, "")
		exec(tx, "UPDATE c_docs SET title = 'charlie citrus' WHERE id = $1", c) // indexed before
		exec(tx, "DELETE FROM c_docs WHERE id = $1", a)
		exec(tx, "UPDATE c_docs SET title = 'delta durian' WHERE id = $1", d)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check("older rows", map[string][]string{"avocado": nil, "cherry": nil, "citrus": {c}, "date": nil, "durian": {e.strings("SELECT id FROM c_docs WHERE title = 'delta durian'")[0]}})

	// A collection before docs (by name) that needs nothing: the start
	// goes on to the next.
	e.create(schema.Collection{Name: "alpha", Fields: []schema.Field{{Name: "title", Type: schema.Text, Searchable: true}}})
	// Behind bam's back: pending until the next start.
	if _, err := db.SQL().ExecContext(t.Context(), "INSERT INTO c_docs (id, created, updated, version, title) VALUES ('x', '', '', 1, 'echo elderberry')"); err != nil {
		t.Fatal(err)
	}
	if got := e.search(docs, "elderberry"); len(got) != 0 {
		t.Errorf("a row inserted behind bam's back is searchable at once: %v", got)
	}
	start := func() {
		t.Helper()
		r := schema.NewRegistry(db)
		if err := r.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := r.PrepareSearch(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	start()
	check("after a start", map[string][]string{"elderberry": {"x"}})

	// A collection from before: its insert trigger wrote to the index.
	for _, q := range []string{
		"DROP TRIGGER t_docs_fts_ai", "DROP TRIGGER t_docs_fts_ad", "DROP TRIGGER t_docs_fts_au", "DROP TABLE c_docs_fts_new",
		"CREATE TRIGGER t_docs_fts_ai AFTER INSERT ON c_docs BEGIN INSERT INTO c_docs_fts (rowid, title) VALUES (new._rid, new.title); END",
	} {
		if _, err := db.SQL().ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := schema.NewRegistry(db).Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.tableExists("c_docs_fts_new") {
		t.Fatal("Load wrote: it must stay read-only (it runs inside other transactions)")
	}
	start()
	if !e.tableExists("c_docs_fts_new") {
		t.Fatal("PrepareSearch did not give the old collection its pending table")
	}
	if got := e.strings("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'c_docs' AND sql LIKE '%c_docs_fts_new%' ORDER BY name"); !slices.Equal(got, []string{"t_docs_fts_ad", "t_docs_fts_ai", "t_docs_fts_au"}) {
		t.Errorf("triggers using the pending table after PrepareSearch: %v", got)
	}
	f := e.insert(docs, map[string]any{"title": "foxtrot fig"}, "")
	check("upgraded", map[string][]string{"fig": {f}, "citrus": {c}, "elderberry": {"x"}})
}
