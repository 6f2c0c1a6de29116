package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// Tx is one attempt of a transaction run by DB.InTx. It offers the query
// methods of *sql.Tx but not Commit or Rollback: InTx owns the outcome.
type Tx struct {
	tx       *sql.Tx
	db       *DB
	dialect  Dialect
	onCommit []func()
	// BeforeCommit's work, and its keys
	beforeCommit []func(ctx context.Context) error
	beforeKeys   []string
	queried      map[string]struct{} // SQLite: queries whose cached statement may have open rows
	ran          int                 // statements run (Statements)
}

// Statements reports how many statements this attempt has run (through
// ExecContext, QueryContext and QueryRowContext), failed ones included: a
// caller that sees it unchanged across some work knows that work touched
// nothing in the transaction.
func (tx *Tx) Statements() int { return tx.ran }

// ExecContext runs a statement in the transaction, like (*sql.Tx).ExecContext.
// The statement is prepared once and reused (see stmtCache).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx.ran++
	if s := tx.stmt(ctx, query); s != nil {
		res, err := s.ExecContext(ctx, args...)
		tx.stale(query, err)
		return res, err
	}
	return tx.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction, like (*sql.Tx).QueryContext.
// The statement is prepared once and reused (see stmtCache).
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	tx.ran++
	if s := tx.stmt(ctx, query); s != nil {
		tx.markQueried(query)
		rows, err := s.QueryContext(ctx, args...)
		tx.stale(query, err)
		return rows, err
	}
	return tx.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a single-row query in the transaction, like
// (*sql.Tx).QueryRowContext. The statement is prepared once and reused (see
// stmtCache).
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	tx.ran++
	if s := tx.stmt(ctx, query); s != nil {
		tx.markQueried(query)
		row := s.QueryRowContext(ctx, args...)
		tx.stale(query, row.Err())
		return row
	}
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// Dialect reports the SQL dialect of the database the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// OnCommit registers f to run after the transaction commits, in registration
// order. f never runs if the attempt rolls back; a retried attempt starts with
// no hooks, so fn registers them again as it runs again. Use it for effects
// that must not happen for a change that did not happen: waking the outbox
// relay, invalidating a cache.
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// BeforeCommit registers f to run in the transaction once fn has returned
// nil, just before the commit, in registration order; an error from f
// rolls the attempt back and is InTx's (retried like fn's). A second f
// under the same key is ignored: work that one statement does for the
// whole transaction (see content's full-text index) is registered by each
// write that needs it and runs once.
func (tx *Tx) BeforeCommit(key string, f func(ctx context.Context) error) {
	if slices.Contains(tx.beforeKeys, key) {
		return
	}
	tx.beforeKeys = append(tx.beforeKeys, key)
	tx.beforeCommit = append(tx.beforeCommit, f)
}

// Retry policy for InTx: a few attempts, exponential backoff with jitter so
// that colliding transactions do not collide again in lockstep.
const (
	txMaxAttempts = 5
	txBaseDelay   = 5 * time.Millisecond
	txMaxDelay    = 250 * time.Millisecond
)

// InTx runs fn in a transaction. It commits when fn returns nil and rolls back
// when fn returns an error or panics (the panic is re-raised after the
// rollback). When fn or the commit fails with a retryable error (see
// IsRetryable), the whole of fn runs again in a new transaction, up to a few
// times with jittered backoff, so fn must have no effects outside tx other
// than through OnCommit. After a successful commit, the OnCommit hooks of
// that attempt run. A COMMIT whose answer was lost (PostgreSQL: the
// connection broke after it was sent) gives an error wrapping
// ErrCommitUnknown, and is not retried: it may have been applied.
//
// InTx does not nest: calling it from fn starts an independent transaction
// (and on SQLite waits for the write lock the outer one holds). On SQLite
// every transaction takes the write lock at BEGIN, so keep them short.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	// Prepare the statements earlier transactions asked for, while this
	// goroutine holds no connection (see stmtCache).
	db.stmts.prepare(ctx, db.sql)
	var err error
	for attempt := 0; ; attempt++ {
		var tx *Tx
		tx, err = db.attempt(ctx, fn)
		if err == nil {
			for _, f := range tx.onCommit {
				f()
			}
			return nil
		}
		if !IsRetryable(err) || attempt+1 >= txMaxAttempts {
			break
		}
		if werr := sleep(ctx, backoff(attempt)); werr != nil {
			return fmt.Errorf("%w (retry abandoned: %w)", err, werr)
		}
	}
	return err
}

// writerWait bounds the wait for the in-process SQLite write lock, like
// the file lock's busy timeout: a transaction started inside another
// (InTx does not nest) fails instead of waiting forever.
const writerWait = 10 * time.Second

// attempt runs fn once in its own transaction and commits it.
func (db *DB) attempt(ctx context.Context, fn func(tx *Tx) error) (*Tx, error) {
	if db.writer != nil {
		t := time.NewTimer(writerWait)
		select {
		case db.writer <- struct{}{}:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("store: begin: %w", ctx.Err())
		case <-t.C:
			return nil, fmt.Errorf("store: begin: no write lock after %s (a transaction inside another?)", writerWait)
		}
		defer func() { <-db.writer }()
	}
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, db: db, dialect: db.dialect}
	committed := false
	defer func() {
		if !committed {
			// The error or panic that got us here matters more than a
			// failed rollback, and the driver discards the connection then.
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return nil, err
	}
	for _, f := range tx.beforeCommit {
		if err := f(ctx); err != nil {
			return nil, err
		}
	}
	committed = true // a failed Commit has ended the tx too
	if err := sqlTx.Commit(); err != nil {
		if db.dialect == Postgres && !commitOutcomeKnown(err) {
			return nil, errs.Wrap(fmt.Errorf("%w: %w", ErrCommitUnknown, err), errs.Unavailable, "store.commit_unknown",
				"the connection to the database broke while the change was being committed: it may or may not have been saved; read it before trying again")
		}
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	return tx, nil
}

// backoff returns the wait before retry number attempt+1: exponential, capped,
// with the upper half jittered.
func backoff(attempt int) time.Duration {
	d := min(txBaseDelay<<attempt, txMaxDelay)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
