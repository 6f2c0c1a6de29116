package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// PostgreSQL SQLSTATE codes this package classifies.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgFeatureNotSupported  = "0A000" // with "cached plan must not change result type"
)

// IsUniqueViolation reports whether err (or an error it wraps) is a unique or
// primary key constraint violation, on either dialect. Stores map it to their
// "already exists" error.
func IsUniqueViolation(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == pgUniqueViolation
	}
	if sqErr, ok := errors.AsType[*sqlite.Error](err); ok {
		// Connections use extended result codes, which tell UNIQUE and
		// PRIMARY KEY apart from the other constraint kinds.
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsRetryable reports whether err (or an error it wraps) means the
// transaction lost a race and would likely succeed if run again: on
// PostgreSQL a serialization failure (40001) or a detected deadlock (40P01),
// on SQLite BUSY or LOCKED (any extended variant). InTx retries these. On
// PostgreSQL it also reports a prepared statement made stale by a schema
// change ("cached plan must not change result type"): it aborted the
// transaction, and the statement is re-prepared when the transaction runs
// again.
func IsRetryable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == pgSerializationFailure || pgErr.Code == pgDeadlockDetected || isStalePlan(err)
	}
	if sqErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch sqErr.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// ErrCommitUnknown is wrapped by InTx's error when a COMMIT was sent and no
// answer came back (the connection broke in between): the transaction may
// or may not have been applied. Nothing that wrote in it may run again as
// if it had not been: a create run twice makes two records. Callers should
// answer that the outcome is unknown, so that clients read before retrying.
var ErrCommitUnknown = errors.New("store: the commit's outcome is unknown (the connection broke before the database answered)")

// commitOutcomeKnown reports whether a failed COMMIT certainly did not
// apply: the database refused it with its own error or answered ROLLBACK
// (an aborted transaction), or database/sql never sent it (the context
// had ended: it returns that context's error as is, and rolls back). Any
// other failure may have come after the server applied it: pgx reports a
// connection that broke while it waited for the answer as "conn closed",
// an error it also calls safe to retry, so that cannot tell either.
// SQLite runs in the process: its commit answers always arrive, and it is
// not asked.
func commitOutcomeKnown(err error) bool {
	if _, ok := errors.AsType[*pgconn.PgError](err); ok {
		return true
	}
	// The context's error itself, not wrapped: database/sql's, before it
	// sent anything (pgx wraps the one it meets while waiting for the answer).
	return errors.Is(err, pgx.ErrTxCommitRollback) || errors.Is(err, sql.ErrTxDone) ||
		err == context.Canceled || err == context.DeadlineExceeded
}
