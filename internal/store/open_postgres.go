package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bamhq/bam/internal/rawsock"
)

// PostgreSQL pool limits: enough for a service's concurrency without one
// replica eating a shared server's max_connections (100 by default), and
// connections recycled so that server restarts, failovers and load balancer
// changes are picked up. Idle connections are kept up to the open limit:
// with fewer, every burst above them closed and reopened connections, and
// reconnecting (milliseconds of server work each) was the largest cost of a
// sign-in besides hashing. ConnMaxIdleTime still returns them when quiet.
const (
	pgMaxOpenConns    = 16
	pgMaxIdleConns    = pgMaxOpenConns
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
	// pgReaderConns bounds DB.Reader's pool, beside the main one.
	pgReaderConns = 8
)

// openPostgres opens a pool on the pgx driver. With opts.Schema every
// connection starts with search_path set to that schema alone, so that
// unqualified names cannot reach another service's tables in public.
// params are more run-time parameters every session starts with.
func openPostgres(url string, opts Options, params map[string]string) (*sql.DB, error) {
	cfg, err := postgresConfig(url, opts, params)
	if err != nil {
		return nil, err
	}
	db := otelsql.OpenDB(stdlib.GetConnector(*cfg, stdlib.OptionAfterConnect(ssdCosts)), otelOptions(Postgres, opts)...)
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	return db, nil
}

// postgresConfig is the pgx configuration of openPostgres's connections.
func postgresConfig(url string, opts Options, params map[string]string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("store: parse postgres URL: %w (%s)", err, urlForms)
	}
	if opts.Schema != "" {
		if err := checkSchema(opts.Schema); err != nil {
			return nil, err
		}
		cfg.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	// The planner guesses 100 rows for every set-returning JSON function,
	// so filters through relations and multi fields looked expensive enough
	// to JIT-compile: ~1.5 s of compiling for a query over 60 rows. Our
	// queries are short OLTP ones; JIT never pays for itself here. A URL
	// parameter (?jit=on) still wins.
	if _, set := cfg.RuntimeParams["jit"]; !set {
		cfg.RuntimeParams["jit"] = "off"
	}
	maps.Copy(cfg.RuntimeParams, params)
	// A statement is a write and a read or two: without the runtime's
	// system-call bookkeeping (internal/rawsock) on a host where a call is
	// dear. TLS, when asked for, runs over the wrapped connection.
	cfg.DialFunc = rawsock.WrapDial(cfg.DialFunc)
	return cfg, nil
}

// ssdCosts sets random_page_cost to 1.1 for conn's session when nothing
// (postgresql.conf, ALTER DATABASE or ROLE, the URL) has set it. The
// server's default, 4, prices a random read as a spinning disk's. Under it
// a statement prepared while its table was small (the first minutes of a
// deployment) got a sequential scan as its cached generic plan, and kept
// it while the table grew, until autovacuum's next ANALYZE: each batch of
// token refreshes scanned all of auth_refresh_tokens, so a 10 s refresh
// benchmark ran at half the rate of a 5 s one. 1.1 is the usual value for
// SSDs and for data in memory. A query, not a startup parameter: that
// would override what an operator set, and poolers such as PgBouncer
// refuse startup parameters they do not know.
func ssdCosts(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `SELECT set_config(name, '1.1', false) FROM pg_settings
		WHERE name = 'random_page_cost' AND source = 'default'`)
	return err
}

func checkSchema(schema string) error {
	if len(schema) > 63 {
		return fmt.Errorf("store: postgres schema %q is longer than 63 bytes", schema)
	}
	for _, r := range schema {
		if r == 0 {
			return fmt.Errorf("store: postgres schema %q contains NUL", schema)
		}
	}
	return nil
}

// createSchema creates schema if missing. Replicas starting together may race
// on CREATE SCHEMA IF NOT EXISTS, which then fails with a unique violation on
// the catalog (or duplicate_schema): both mean it exists now.
func createSchema(ctx context.Context, db *sql.DB, schema string) error {
	_, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06")) {
		return fmt.Errorf("store: create schema %q: %w", schema, err)
	}
	return nil
}

// reader is DB.Reader's pool, opened by its first call.
type reader struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// Reader returns a pool for reads that PostgreSQL bounds itself: its
// sessions are read-only (default_transaction_read_only) and the server
// stops any statement of theirs after timeout (statement_timeout), so a
// runaway query ends even if the client's cancellation is lost. That takes
// no transaction and no SET per query, which cost a list three round
// trips, a quarter of its time. The first call opens the pool with its
// timeout (later calls return that pool, whatever theirs), of up to
// pgReaderConns connections. On SQLite it is the main pool (an
// interrupted context stops a query there).
func (db *DB) Reader(timeout time.Duration) (*sql.DB, error) {
	if db.dialect != Postgres {
		return db.sql, nil
	}
	db.reader.once.Do(func() {
		params := map[string]string{
			"default_transaction_read_only": "on",
			"statement_timeout":             strconv.FormatInt(max(timeout.Milliseconds(), 1), 10),
		}
		r, err := openPostgres(db.url, Options{Name: db.name + "_read", Schema: db.schema}, params)
		if err != nil {
			db.reader.err = err
			return
		}
		// Reads are short and the machine's cores bound them: a smaller
		// pool keeps a replica's connections near the one budget.
		r.SetMaxOpenConns(pgReaderConns)
		r.SetMaxIdleConns(pgReaderConns)
		db.reader.db = r
		db.readerStats = registerPoolStats(r, db.name+"_read")
	})
	return db.reader.db, db.reader.err
}
