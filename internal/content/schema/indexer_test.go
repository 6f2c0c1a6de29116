package schema_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// indexerEnv is a searchable collection docs on SQLite whose inserts an
// Indexer with opts indexes.
func indexerEnv(t *testing.T, opts schema.IndexerOptions) (*env, *schema.Collection) {
	t.Helper()
	db := storetest.Open(t, store.SQLite, schema.Migrations)
	reg := schema.NewRegistry(db)
	if err := reg.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ix := schema.NewIndexer(db, opts)
	t.Cleanup(ix.Close)
	e := &env{t: t, db: db, reg: reg, ix: ix}
	docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "title", Type: schema.Text, Searchable: true}}})
	return e, docs
}

// checkIndex fails the test unless pending rows are left in docs' pending
// table, the searches find want, and, when none is pending, the index
// matches the table (FTS5's integrity check, which a pending row fails).
func (e *env) checkIndex(docs *schema.Collection, pending int, want map[string][]string) {
	e.t.Helper()
	if n := e.count("c_docs_fts_new", ""); n != pending {
		e.t.Errorf("%d rows pending, want %d", n, pending)
	}
	if pending == 0 {
		if _, err := e.db.SQL().ExecContext(e.ctx(), "INSERT INTO c_docs_fts (c_docs_fts, rank) VALUES ('integrity-check', 1)"); err != nil {
			e.t.Errorf("the index does not match the table: %v", err)
		}
	}
	for q, ids := range want {
		if got := e.search(docs, q); !sameSet(got, ids) {
			e.t.Errorf("search %q = %v, want %v", q, got, ids)
		}
	}
}

var errRollback = errors.New("roll back")

// exec runs a statement in a transaction of its own.
func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	err := e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(e.ctx(), q, args...)
		return err
	})
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// TestIndexerCatchUp: with an Indexer, inserted rows wait in the pending
// table after their commit, and CatchUp indexes them as they are then
// (updated; deleted ones not at all) in batches, leaving an index that
// matches the table.
func TestIndexerCatchUp(t *testing.T) {
	t.Parallel()
	e, docs := indexerEnv(t, schema.IndexerOptions{Delay: time.Hour, Batch: 2})
	a := e.insert(docs, map[string]any{"title": "alpha apple"}, "")
	b := e.insert(docs, map[string]any{"title": "bravo banana"}, "")
	err := e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		for _, title := range []string{"charlie cherry", "delta date", "echo elderberry"} {
			if _, err := e.insertIn(tx, docs, map[string]any{"title": title}, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIndex(docs, 5, map[string][]string{"apple": nil, "cherry": nil})
	e.exec("UPDATE c_docs SET title = 'alpha avocado' WHERE id = $1", a)
	e.exec("DELETE FROM c_docs WHERE id = $1", b)

	if err := e.ix.CatchUp(e.ctx(), "docs"); err != nil {
		t.Fatal(err)
	}
	all := e.strings("SELECT id FROM c_docs WHERE title <> 'alpha avocado' ORDER BY id")
	e.checkIndex(docs, 0, map[string][]string{"apple": nil, "avocado": {a}, "banana": nil,
		"cherry": all[:1], "date": all[1:2], "elderberry": all[2:]})

	// Indexed rows change the index at once, as without an Indexer.
	e.exec("UPDATE c_docs SET title = 'alpha apricot' WHERE id = $1", a)
	e.checkIndex(docs, 0, map[string][]string{"avocado": nil, "apricot": {a}})
	// Nothing new: nothing to do, even for a collection never written.
	for _, name := range []string{"docs", "other"} {
		if err := e.ix.CatchUp(e.ctx(), name); err != nil {
			t.Errorf("CatchUp(%s) = %v", name, err)
		}
	}
}

// TestIndexerBackground: without a search, inserted rows are indexed
// after the delay; a transaction that rolled back schedules nothing;
// after Close, rows wait for CatchUp (or the next start).
func TestIndexerBackground(t *testing.T) {
	t.Parallel()
	e, docs := indexerEnv(t, schema.IndexerOptions{Delay: 20 * time.Millisecond})
	a := e.insert(docs, map[string]any{"title": "alpha apple"}, "")
	testenv.WaitFor(t, 10*time.Second, "the background pass", func() bool { return e.count("c_docs_fts_new", "") == 0 })
	e.checkIndex(docs, 0, map[string][]string{"apple": {a}})

	e.ix.Close()
	b := e.insert(docs, map[string]any{"title": "bravo banana"}, "")
	time.Sleep(100 * time.Millisecond) // five delays
	e.checkIndex(docs, 1, map[string][]string{"banana": nil})
	if err := e.ix.CatchUp(e.ctx(), "docs"); err != nil {
		t.Fatal(err)
	}
	e.checkIndex(docs, 0, map[string][]string{"banana": {b}})
}

// TestIndexerRollback: rows of a transaction that rolled back leave
// nothing to index, and the next commit is indexed as usual.
func TestIndexerRollback(t *testing.T) {
	t.Parallel()
	e, docs := indexerEnv(t, schema.IndexerOptions{Delay: time.Hour})
	_ = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		if _, err := e.insertIn(tx, docs, map[string]any{"title": "alpha apple"}, ""); err != nil {
			t.Fatal(err)
		}
		return errRollback
	})
	e.checkIndex(docs, 0, map[string][]string{"apple": nil})
	b := e.insert(docs, map[string]any{"title": "bravo banana"}, "")
	if err := e.ix.CatchUp(e.ctx(), "docs"); err != nil {
		t.Fatal(err)
	}
	e.checkIndex(docs, 0, map[string][]string{"apple": nil, "banana": {b}})
}

// TestIndexerPostgres: PostgreSQL's search column is computed by the
// insert; the Indexer has nothing to do.
func TestIndexerPostgres(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.Postgres, schema.Migrations)
	reg := schema.NewRegistry(db)
	if err := reg.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ix := schema.NewIndexer(db, schema.IndexerOptions{Delay: time.Hour})
	defer ix.Close()
	e := &env{t: t, db: db, reg: reg, ix: ix}
	docs := e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "title", Type: schema.Text, Searchable: true}}})
	a := e.insert(docs, map[string]any{"title": "alpha apple"}, "")
	if got := e.search(docs, "apple"); !sameSet(got, []string{a}) {
		t.Errorf("search apple = %v, want %v", got, []string{a})
	}
	if err := ix.CatchUp(t.Context(), "docs"); err != nil {
		t.Error(err)
	}
}

// TestIndexerStaleDefinition: a write drafted with a definition older
// than the table (the field made searchable since) still has its row
// indexed: whether to index is the table's to say, not the definition's.
func TestIndexerStaleDefinition(t *testing.T) {
	t.Parallel()
	e, docs := indexerEnv(t, schema.IndexerOptions{Delay: time.Hour})
	stale := *docs
	stale.Fields = []schema.Field{{Name: "title", Type: schema.Text}}
	a := e.insert(&stale, map[string]any{"title": "alpha apple"}, "")
	if err := e.ix.CatchUp(e.ctx(), "docs"); err != nil {
		t.Fatal(err)
	}
	e.checkIndex(docs, 0, map[string][]string{"apple": {a}})
}

// TestIndexerRetry: a background pass that fails says so in the log and
// runs again after the retry delay, which indexes the rows then.
func TestIndexerRetry(t *testing.T) {
	t.Parallel()
	var log testenv.LogBuffer
	e, docs := indexerEnv(t, schema.IndexerOptions{Delay: 10 * time.Millisecond, Retry: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	// Rows waiting while the pending table is gone: the pass fails.
	e.exec("DROP TRIGGER t_docs_fts_ai")
	a := e.insert(docs, map[string]any{"title": "alpha apple"}, "")
	e.exec("DROP TABLE c_docs_fts_new")
	testenv.WaitFor(t, 10*time.Second, "a failed pass in the log", func() bool {
		return strings.Contains(log.String(), "indexing new records for search failed")
	})
	if !strings.Contains(log.String(), "c_docs_fts_new") {
		t.Fatalf("the failed pass does not say why: %q", log.String())
	}
	e.exec("CREATE TABLE c_docs_fts_new (rid INTEGER PRIMARY KEY)")
	e.exec("INSERT INTO c_docs_fts_new (rid) SELECT _rid FROM c_docs")
	testenv.WaitFor(t, 10*time.Second, "the pass tried again", func() bool { return e.count("c_docs_fts_new", "") == 0 })
	e.checkIndex(docs, 0, map[string][]string{"apple": {a}})
}
