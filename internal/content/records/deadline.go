package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// DefaultQueryTimeout bounds the queries of one List (the page and the
// count together).
const DefaultQueryTimeout = 5 * time.Second

// reading runs fn, the queries of one list, within s.timeout: on
// PostgreSQL on the store's Reader pool, whose sessions are read-only and
// whose statement_timeout is s.timeout, so that the server stops a
// runaway query itself even if the cancellation is lost; on SQLite on the
// pool (the context interrupts the query). Running out of time is errs
// Timeout (content.query_timeout).
func (s *Store) reading(ctx context.Context, fn func(ctx context.Context, q store.Querier) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pool, err := s.db.Reader(s.timeout)
	if err == nil {
		err = fn(ctx, pool)
	}
	if err != nil && timedOut(ctx, err) {
		return errs.Wrap(err, errs.Timeout, CodeQueryTimeout, fmt.Sprintf(
			"The query took longer than %s: narrow the filter, or leave out count.", s.timeout))
	}
	return err
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
