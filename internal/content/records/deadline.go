package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// DefaultQueryTimeout bounds the queries of one List (the page and the
// count together).
const DefaultQueryTimeout = 5 * time.Second

// reading runs fn, the queries of one list, within s.timeout: on
// PostgreSQL in a read-only transaction whose statement_timeout is the
// time left, so that the server stops a runaway query itself even if the
// cancellation is lost; on SQLite on the pool (the context interrupts the
// query). Running out of time is errs Timeout (content.query_timeout).
func (s *Store) reading(ctx context.Context, fn func(ctx context.Context, q store.Querier) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var err error
	if s.dialect == store.Postgres {
		err = s.readTx(ctx, fn)
	} else {
		err = fn(ctx, s.db.SQL())
	}
	if err != nil && timedOut(ctx, err) {
		return errs.Wrap(err, errs.Timeout, CodeQueryTimeout, fmt.Sprintf(
			"The query took longer than %s: narrow the filter, or leave out count.", s.timeout))
	}
	return err
}

// readTx runs fn in a read-only PostgreSQL transaction bounded by
// statement_timeout.
func (s *Store) readTx(ctx context.Context, fn func(ctx context.Context, q store.Querier) error) error {
	tx, err := s.db.SQL().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ms := s.timeout.Milliseconds()
	if d, ok := ctx.Deadline(); ok {
		ms = min(ms, max(1, time.Until(d).Milliseconds()))
	}
	// SET takes no parameters; ms is an integer.
	if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// timedOut reports whether err comes of ctx's deadline or of PostgreSQL's
// statement_timeout (query_canceled).
func timedOut(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	pg, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pg.Code == "57014"
}
