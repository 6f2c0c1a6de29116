package schema

import (
	"context"
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
// (measured: 12 % of the creates a second on a two-core machine). An
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
	// Log gets the passes that failed (they are tried again).
	Log *slog.Logger
}

// Defaults of IndexerOptions.
const (
	DefaultIndexDelay = 100 * time.Millisecond
	DefaultIndexBatch = 1000
)

// indexRetryDelay is the wait before a failed background pass runs again.
const indexRetryDelay = 5 * time.Second

// indexPassTimeout bounds a background pass.
const indexPassTimeout = time.Minute

// Indexer indexes the rows inserted into searchable collections after
// their transactions commit (see above). It is safe for concurrent use. A
// nil *Indexer indexes each transaction's rows before it commits.
type Indexer struct {
	db   *store.DB
	opts IndexerOptions

	pass   sync.Mutex // one pass at a time, held until its transactions are done
	states sync.Map   // collection name → *indexState

	timerMu sync.Mutex
	timer   *time.Timer // the next background pass, nil when none is due
	closed  bool
	running sync.WaitGroup // background passes under way
}

// indexState counts a collection's transactions that inserted rows, and
// how many of them passes have indexed: every row of the first indexed
// transactions is in the index.
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
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Indexer{db: db, opts: opts}
}

// Inserted tells ix that tx inserted rows into c's table: they are
// indexed after tx commits. Call it from every write that inserts into a
// collection's table, before anything else that tx.OnCommit announces
// (what ran after the commit can then rely on CatchUp finding the rows).
func (ix *Indexer) Inserted(tx *store.Tx, c *Collection) {
	if ix == nil {
		IndexPending(tx, c)
		return
	}
	if tx.Dialect() != store.SQLite || !c.Searchable() {
		return
	}
	st := ix.state(c.Name)
	tx.OnCommit(func() {
		st.noted.Add(1)
		ix.schedule(ix.opts.Delay)
	})
}

// CatchUp indexes the rows of collection that transactions committed
// before it was called and that no pass has indexed yet, so that a search
// run next finds them. It costs nothing when there are none.
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
	ix.pass.Lock()
	defer ix.pass.Unlock()
	return ix.index(ctx, collection, st)
}

// Close stops the background passes (waiting for one under way); rows
// inserted afterwards are indexed by CatchUp or at the next start.
func (ix *Indexer) Close() {
	if ix == nil {
		return
	}
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
	ix.timerMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), indexPassTimeout)
	defer cancel()
	ix.pass.Lock()
	defer ix.pass.Unlock()
	failed := false
	ix.states.Range(func(k, v any) bool {
		st := v.(*indexState)
		if st.indexed.Load() >= st.noted.Load() {
			return true
		}
		if err := ix.index(ctx, k.(string), st); err != nil {
			ix.opts.Log.Warn("content: indexing new records for search failed; trying again", "collection", k,
				"in", indexRetryDelay, "err", err)
			failed = true
		}
		return true
	})
	if failed {
		ix.schedule(indexRetryDelay)
	}
}

// index runs transactions indexing collection's pending rows until none
// is left; ix.pass is held. On success every transaction noted before it
// began is indexed. A collection deleted, or no longer searchable, has
// none left: its pending rows went with its search objects.
func (ix *Indexer) index(ctx context.Context, collection string, st *indexState) error {
	noted := st.noted.Load()
	for {
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
