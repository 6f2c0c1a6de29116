package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// LockTimeout is how long a schema change waits, on PostgreSQL, for a
// lock it needs (ALTER TABLE and DROP TABLE wait for every transaction
// reading the table; the catalogue lock for another change). A change
// waiting longer fails with content.conflict ("collection busy, retry")
// rather than queue every reader of the table behind it for as long as a
// long transaction lasts.
const LockTimeout = "3s"

// pgLockNotAvailable is PostgreSQL's SQLSTATE for a lock_timeout.
const pgLockNotAvailable = "55P03"

// boundedLocks runs fn, the work of a schema change of collection name, in tx
// with lock waits bounded by LockTimeout; the caller's setting is back
// once fn succeeds.
func boundedLocks(ctx context.Context, tx *store.Tx, name string, fn func() error) error {
	if tx.Dialect() != store.Postgres {
		return fn()
	}
	var prev string
	if err := tx.QueryRowContext(ctx, "SELECT current_setting('lock_timeout')").Scan(&prev); err != nil {
		return fmt.Errorf("schema: read lock_timeout: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '"+LockTimeout+"'"); err != nil {
		return fmt.Errorf("schema: set lock_timeout: %w", err)
	}
	if err := fn(); err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgLockNotAvailable {
			return errs.E(errs.Conflict, CodeConflict, "collection %q busy, retry (another transaction holds a lock on it)", name)
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, true)", prev); err != nil {
		return fmt.Errorf("schema: restore lock_timeout: %w", err)
	}
	return nil
}
