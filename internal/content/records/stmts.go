package records

import (
	"context"
	"database/sql"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/bamhq/bam/internal/store"
)

// Sizes of the statement caches of a store.
const (
	// fixedMax bounds the statements of fixed texts (reads by id, Scan):
	// one per collection and rule shape, far fewer than this. Past it,
	// they run unprepared.
	fixedMax = 512
	// listMax is how many list statements stay prepared: their texts
	// follow the clients' filters and sorts, so the least recently used
	// make way.
	listMax = 256
)

// stmtCache holds prepared statements for the query texts a store runs on
// the pool, outside transactions (store.Tx caches those inside). On SQLite,
// parsing a statement costs about as much as running a read by primary
// key, and a fifth of a list. PostgreSQL needs none of it: pgx already
// prepares each text once per connection.
type stmtCache struct {
	enabled bool
	mu      sync.RWMutex
	fixed   map[string]*sql.Stmt // nil value: did not prepare, do not retry
	lists   *lru.Cache[string, *sql.Stmt]
}

func newStmtCache(enabled bool) *stmtCache {
	c := &stmtCache{enabled: enabled}
	if enabled {
		// Closing an evicted statement waits for queries running on it;
		// one about to start on it fails and runs unprepared (see query).
		c.lists, _ = lru.NewWithEvict(listMax, func(_ string, st *sql.Stmt) { _ = st.Close() })
	}
	return c
}

// get returns the statement for text, preparing it on db the first time;
// nil to run text unprepared. fixed says whether text is one of a bounded
// set.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, text string, fixed bool) *sql.Stmt {
	if !c.enabled {
		return nil
	}
	if !fixed {
		if st, ok := c.lists.Get(text); ok {
			return st
		}
		st, err := db.PrepareContext(ctx, text)
		if err != nil {
			return nil
		}
		if prev, ok, _ := c.lists.PeekOrAdd(text, st); ok {
			_ = st.Close()
			return prev
		}
		return st
	}
	c.mu.RLock()
	st, ok := c.fixed[text]
	n := len(c.fixed)
	c.mu.RUnlock()
	if ok || n >= fixedMax {
		return st
	}
	st, err := db.PrepareContext(ctx, text)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the caller's deadline, not the statement's fault
		}
		st = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, dup := c.fixed[text]; dup {
		if st != nil {
			_ = st.Close()
		}
		return prev
	}
	if c.fixed == nil {
		c.fixed = make(map[string]*sql.Stmt)
	}
	c.fixed[text] = st
	return st
}

// errStmtClosed is database/sql's error for a closed *sql.Stmt, which it
// does not export.
const errStmtClosed = "sql: statement is closed"

// query runs a SELECT on q, through a prepared statement when q is the
// store's pool. fixed says whether text is one of a bounded set (reads by
// id) or built from a client's request (lists).
func (s *Store) query(ctx context.Context, q store.Querier, fixed bool, text string, args ...any) (*sql.Rows, error) {
	if db, ok := q.(*sql.DB); ok && db == s.db.SQL() {
		if st := s.stmts.get(ctx, db, text, fixed); st != nil {
			rows, err := st.QueryContext(ctx, args...)
			if err == nil || err.Error() != errStmtClosed {
				return rows, err
			}
			// Evicted and closed since get: run it unprepared.
		}
	}
	return q.QueryContext(ctx, text, args...)
}
