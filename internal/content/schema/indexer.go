package schema

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// Deferred full-text indexing (SQLite). Indexing a transaction's inserted
// rows before it commits (IndexPending) makes every write transaction of
// a searchable collection write a new FTS5 segment, and FTS5 merges its
// segments as they pile up: under a create load that is one segment per
// group commit, hundreds a second, all of it on the single writer's path
// (measured on two cores: a collection without the index served 1.13×
// the creates a second, and this Indexer 1.06×; docs/benchmarks.md). An
// Indexer leaves inserted rows in the collection's pending table, where
// the insert trigger put them, and indexes them later, many transactions'
// rows in one statement: after Delay in the background, and at once
// before a search reads the index (CatchUp), so a search sees every
// record whose write was acknowledged before it began. A pending row is
// committed with its record: a crash leaves it pending, and the next
// start indexes it (PrepareSearch). PostgreSQL needs none of this (its
// search column is computed by the insert).

// IndexerOptions configure an Indexer; zero values take the defaults.
type IndexerOptions struct {
	// Delay is how long inserted rows may wait before the background pass
	// indexes them (DefaultIndexDelay): the longer, the more rows each
	// FTS5 segment holds.
	Delay time.Duration
	// Batch bounds the rows one pass transaction indexes
	// (DefaultIndexBatch), and so how long it holds the write lock; a
	// pass runs transactions until no row is pending.
	Batch int
	// Retry is the wait before a failed background pass runs again
	// (DefaultIndexRetry).
	Retry time.Duration
	// Log gets the passes that failed (they are tried again).
	Log *slog.Logger
}

// Defaults of IndexerOptions.
const (
	DefaultIndexDelay = 100 * time.Millisecond
	DefaultIndexBatch = 1000
	DefaultIndexRetry = 5 * time.Second
)

// indexPassTimeout bounds a background pass.
const indexPassTimeout = time.Minute

// Indexer indexes the rows inserted into searchable collections after
// their transactions commit (see above). It is safe for concurrent use. A
// nil *Indexer indexes each transaction's rows before it commits.
type Indexer struct {
	db   *store.DB
	opts IndexerOptions

	pass   chan struct{} // one pass at a time, held until its transactions are done
	states sync.Map      // collection name → *indexState

	timerMu sync.Mutex
	timer   *time.Timer // the next background pass, nil when none is due
	closed  bool
	running sync.WaitGroup     // background passes under way
	stop    context.CancelFunc // ends a background pass under way (Close)
	bg      context.Context    // of the background passes
}

// indexState counts the inserts into a collection that committed, and how
// many of them passes have indexed: the rows of the first indexed inserts
// are in the index.
type indexState struct {
	noted   atomic.Uint64
	indexed atomic.Uint64
}

// NewIndexer returns an Indexer of the collections in db.
func NewIndexer(db *store.DB, opts IndexerOptions) *Indexer {
	if opts.Delay <= 0 {
		opts.Delay = DefaultIndexDelay
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultIndexBatch
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultIndexRetry
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	bg, stop := context.WithCancel(context.Background())
	return &Indexer{db: db, opts: opts, pass: make(chan struct{}, 1), bg: bg, stop: stop}
}

// Inserted tells ix that tx inserted a row into c's table: if c is
// searchable when tx commits, the row is indexed after that. Call it from
// every write that inserts into a collection's table, before anything else
// that tx.OnCommit announces (what ran after the commit can then rely on
// CatchUp finding the row). Whether c is searchable is not taken from c,
// which may be older than the table (a change making a field searchable
// may commit between a write's draft and its transaction): the pass finds
// out (indexPending).
func (ix *Indexer) Inserted(tx *store.Tx, c *Collection) {
	if ix == nil {
		IndexPending(tx, c)
		return
	}
	if tx.Dialect() != store.SQLite {
		return
	}
	st := ix.state(c.Name)
	tx.OnCommit(func() {
		st.noted.Add(1)
		ix.schedule(ix.opts.Delay)
	})
}

// CatchUp indexes the rows of collection whose inserts committed before
// it was called and that no pass has indexed yet, so that a search run
// next finds them. It costs nothing when there are none; it returns ctx's
// error if ctx ends while it waits for a pass under way or for the write
// lock.
func (ix *Indexer) CatchUp(ctx context.Context, collection string) error {
	if ix == nil {
		return nil
	}
	v, ok := ix.states.Load(collection)
	if !ok {
		return nil
	}
	st := v.(*indexState)
	if st.indexed.Load() >= st.noted.Load() {
		return nil
	}
	select {
	case ix.pass <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("schema: waiting to index %s for search: %w", collection, ctx.Err())
	}
	defer func() { <-ix.pass }()
	return ix.index(ctx, collection, st)
}

// Close stops the background passes (ending one under way, whose rows
// stay pending); rows left are indexed by CatchUp or at the next start.
// Calling it again does nothing.
func (ix *Indexer) Close() {
	if ix == nil {
		return
	}
	ix.stop()
	ix.timerMu.Lock()
	ix.closed = true
	if ix.timer != nil && ix.timer.Stop() {
		ix.running.Done() // the pass it would have run
	}
	ix.timer = nil
	ix.timerMu.Unlock()
	ix.running.Wait()
}

func (ix *Indexer) state(collection string) *indexState {
	if v, ok := ix.states.Load(collection); ok {
		return v.(*indexState)
	}
	v, _ := ix.states.LoadOrStore(collection, new(indexState))
	return v.(*indexState)
}

// schedule arms a background pass after d unless one is already due.
func (ix *Indexer) schedule(d time.Duration) {
	ix.timerMu.Lock()
	defer ix.timerMu.Unlock()
	if ix.timer != nil || ix.closed {
		return
	}
	ix.running.Add(1)
	ix.timer = time.AfterFunc(d, ix.background)
}

// background is a pass over every collection with rows to index.
func (ix *Indexer) background() {
	defer ix.running.Done()
	ix.timerMu.Lock()
	ix.timer = nil // a commit from now on schedules the next pass
	closed := ix.closed
	ix.timerMu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(ix.bg, indexPassTimeout)
	defer cancel()
	select {
	case ix.pass <- struct{}{}:
	case <-ctx.Done():
		ix.retry("", ctx.Err())
		return
	}
	defer func() { <-ix.pass }()
	ix.states.Range(func(k, v any) bool {
		st := v.(*indexState)
		if st.indexed.Load() >= st.noted.Load() {
			return true
		}
		if err := ix.index(ctx, k.(string), st); err != nil {
			ix.retry(k.(string), err)
		}
		return true
	})
}

// retry schedules the next background pass after a failed one, unless
// the failure is Close's doing.
func (ix *Indexer) retry(collection string, err error) {
	if ix.bg.Err() != nil {
		return
	}
	ix.opts.Log.Warn("content: indexing new records for search failed; trying again", "collection", collection,
		"in", ix.opts.Retry, "err", err)
	ix.schedule(ix.opts.Retry)
}

// index runs transactions indexing collection's pending rows until none
// is left; ix.pass is held. On success every insert noted before it began
// is indexed. A collection deleted, or no longer searchable, has
// none left: its pending rows went with its search objects.
func (ix *Indexer) index(ctx context.Context, collection string, st *indexState) error {
	noted := st.noted.Load()
	// Not searchable (or no longer): nothing to index, no write lock to
	// take. A change making it searchable indexes every row it finds.
	cols, err := ftsColumns(ctx, ix.db.SQL(), collection)
	if err != nil {
		return err
	}
	for len(cols) > 0 {
		var n int64
		err := ix.db.InTx(ctx, func(tx *store.Tx) (err error) {
			n, err = indexPending(ctx, tx, collection, ix.opts.Batch)
			return err
		})
		if err != nil {
			return err
		}
		if n < int64(ix.opts.Batch) {
			break
		}
	}
	if st.indexed.Load() < noted {
		st.indexed.Store(noted)
	}
	return nil
}
