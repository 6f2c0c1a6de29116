package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// stmtCacheMax bounds the prepared-statement cache of one DB. Services run a
// fixed set of query strings, far fewer than this; once it is full, further
// strings (say, built dynamically) run unprepared, as before, rather than
// evicting and re-preparing.
const stmtCacheMax = 256

// stmtCache keeps prepared statements for the query strings that Tx methods
// run, so that the database parses each once per connection instead of on
// every call (on SQLite, parsing was ~15% of a write transaction's CPU).
// Open enables it for SQLite only (max 0 disables it): on PostgreSQL pgx
// already caches a prepared statement per query string and connection
// (QueryExecModeCacheStatement), so ours would only add a second one and
// database/sql's *Stmt bookkeeping; measured, it did not help there. The code
// still works on PostgreSQL (the tests enable it there).
//
// A query seen for the first time inside a transaction runs unprepared and is
// queued; the next InTx prepares the queued ones on the pool BEFORE it takes
// a connection of its own (db.sql.PrepareContext needs a free connection:
// preparing while a transaction holds one could wait forever on a
// one-connection SQLite :memory: pool, or on a PostgreSQL pool whose
// connections are all held by transactions doing the same). Inside a
// transaction, (*sql.Tx).StmtContext then reuses the statement already
// prepared on the transaction's connection, or prepares it there once.
//
// Only SELECT, INSERT, UPDATE, DELETE, WITH and VALUES statements are cached:
// never DDL, PRAGMA or SET (migrations go through goose on the pool and never
// through here anyway).
//
// Schema changes: statements are prepared after Migrate, at start, so they
// see the final schema. If the schema changes under a running process
// anyway, SQLite re-prepares a stale statement by itself (SQLITE_SCHEMA is
// handled inside sqlite3_step), and PostgreSQL may fail one execution with
// "cached plan must not change result type": the statement is then dropped
// from the cache, and since that error aborts the PostgreSQL transaction,
// IsRetryable reports it so that InTx runs the transaction again, with the
// query re-prepared.
type stmtCache struct {
	mu       sync.Mutex
	stmts    map[string]*sql.Stmt // nil value: failed to prepare, do not retry
	pending  map[string]struct{}  // seen in a transaction, to prepare at the next InTx
	max      int
	closed   bool
	prepares int // statements prepared on the pool, for tests
}

// cacheable reports whether query is a statement worth caching: DML and
// queries only.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	for _, kw := range [...]string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"} {
		if len(q) > len(kw) && strings.EqualFold(q[:len(kw)], kw) && isSpace(q[len(kw)]) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' }

// get returns the prepared statement for query, or nil if there is none yet
// (queuing query to be prepared when it is cacheable and there is room).
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok || c.closed {
		return s
	}
	if _, ok := c.pending[query]; ok || len(c.stmts)+len(c.pending) >= c.max || !cacheable(query) {
		return nil
	}
	if c.pending == nil {
		c.pending = make(map[string]struct{})
	}
	c.pending[query] = struct{}{}
	return nil
}

// prepare prepares the queued queries on db. Call it holding no connection.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()

	for _, q := range queries {
		s, err := db.PrepareContext(ctx, q)
		if err != nil && ctx.Err() != nil {
			return // the caller's context ended: not the query's fault; it queues again
		}
		// A statement that does not prepare (a PostgreSQL multi-statement
		// string, say) runs unprepared from now on: nil remembers that.
		c.mu.Lock()
		c.prepares++
		if _, dup := c.stmts[q]; c.closed || dup || len(c.stmts) >= c.max {
			c.mu.Unlock()
			if s != nil {
				_ = s.Close()
			}
			continue
		}
		if c.stmts == nil {
			c.stmts = make(map[string]*sql.Stmt)
		}
		c.stmts[q] = s
		c.mu.Unlock()
	}
}

// drop removes query's statement from the cache and closes it, if it is still
// s. Transactions using s keep it until they end (database/sql closes the
// driver statements after its last user).
func (c *stmtCache) drop(query string, s *sql.Stmt) {
	c.mu.Lock()
	if c.stmts[query] == s {
		delete(c.stmts, query)
	} else {
		s = nil
	}
	c.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// close closes every cached statement; the cache stays empty afterwards.
func (c *stmtCache) close() {
	c.mu.Lock()
	stmts := c.stmts
	c.stmts, c.pending, c.closed = nil, nil, true
	c.mu.Unlock()
	for _, s := range stmts {
		if s != nil {
			_ = s.Close()
		}
	}
}

// isStalePlan reports whether err is PostgreSQL refusing a prepared statement
// whose result type a schema change altered.
func isStalePlan(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == pgFeatureNotSupported && strings.Contains(pgErr.Message, "cached plan must not change result type")
}

// stmt returns the transaction's handle on query's cached statement, or nil
// to run query unprepared.
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.db == nil {
		return nil
	}
	if tx.dialect == SQLite {
		// A modernc.org/sqlite statement has one cursor: while rows of a
		// query are open, running the same statement again would reset
		// them. So a string queried once in this transaction runs
		// unprepared afterwards. (PostgreSQL connections refuse a second
		// query while rows are open, cached or not.)
		if _, ok := tx.queried[query]; ok {
			return nil
		}
	}
	s := tx.db.stmts.get(query)
	if s == nil {
		return nil
	}
	return tx.tx.StmtContext(ctx, s)
}

// markQueried records that query's cached statement may have open rows.
func (tx *Tx) markQueried(query string) {
	if tx.dialect != SQLite {
		return
	}
	if tx.queried == nil {
		tx.queried = make(map[string]struct{}, 4)
	}
	tx.queried[query] = struct{}{}
}

// stale drops query's statement from the cache if err says it is stale.
func (tx *Tx) stale(query string, err error) {
	if err != nil && isStalePlan(err) {
		if s := tx.db.stmts.peek(query); s != nil {
			tx.db.stmts.drop(query, s)
		}
	}
}

// peek returns query's cached statement without queuing anything.
func (c *stmtCache) peek(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}
