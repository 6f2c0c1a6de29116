// Package store opens a service's SQL database and runs work against it safely.
//
// It has one job: give every service the same *sql.DB-based foundation on
// either dialect bam supports — SQLite (modernc.org/sqlite, the embedded
// default) or PostgreSQL (pgx through its database/sql adapter) — chosen by
// one URL:
//
//	sqlite:./bam_data/auth.db
//	postgres://user@host:5432/bam?sslmode=disable
//
// On top of the connection it provides transactions with retries and
// after-commit hooks ([DB.InTx]), per-component migrations with their own
// version tables ([DB.Migrate]), and error classification
// ([IsUniqueViolation], [IsRetryable]). Every connection is traced with
// OpenTelemetry and its pool statistics are exported to Prometheus.
//
// Placeholders: queries use $1, $2, … on BOTH dialects. PostgreSQL requires
// them and modernc.org/sqlite binds $N positionally, so one query string
// serves both; only the SQL dialect itself (types, upserts, functions) may
// need a switch on [DB.Dialect].
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Dialect names the SQL dialect behind a DB.
type Dialect string

// The dialects bam supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options configure Open.
type Options struct {
	// Name is the logical name of the database, e.g. "auth". It labels pool
	// metrics (db_name) and spans (db.namespace).
	Name string
	// Schema is the PostgreSQL schema to use: created if missing and set as
	// the search_path of every pooled connection, so unqualified table names
	// resolve there and nowhere else. "" keeps the server's default. Ignored
	// for SQLite, where each service has its own file.
	Schema string
}

// DB is an open database of one dialect. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	name    string
	schema  string

	// writer serialises SQLite write transactions inside the process: they
	// queue here, in order, instead of polling the file lock, where under
	// load some would starve past the busy timeout. nil for PostgreSQL.
	writer chan struct{}

	stmts stmtCache // prepared statements of Tx queries

	stats     prometheus.Collector // nil when another DB of the same name already exports stats
	closeOnce sync.Once
	closeErr  error

	url         string // to open the Reader pool; holds the password: never log it
	reader      reader
	readerStats prometheus.Collector
}

// Querier is what *sql.DB and *Tx have in common, for store code that runs
// both inside and outside InTx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*sql.DB)(nil)
	_ Querier = (*Tx)(nil)
)

// urlForms is quoted in every error about a malformed database URL.
const urlForms = `want "sqlite:PATH" (e.g. sqlite:./bam_data/auth.db, sqlite::memory:) or "postgres://user@host:5432/db"`

// Open connects to the database named by url and pings it before returning.
// url is "sqlite:PATH" (the parent directory is created) or
// "postgres://…" / "postgresql://…".
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("store: database URL has no scheme: %s", urlForms)
	}
	var (
		db  *sql.DB
		d   Dialect
		err error
	)
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		d = SQLite
		db, err = openSQLite(rest, opts)
	case "postgres", "postgresql":
		d = Postgres
		db, err = openPostgres(url, opts, nil)
	default:
		return nil, fmt.Errorf("store: unsupported database URL scheme %q: %s", scheme, urlForms)
	}
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s database %q: ping: %w", d, opts.Name, err)
	}
	if d == Postgres && opts.Schema != "" {
		if err := createSchema(ctx, db, opts.Schema); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	s := &DB{sql: db, dialect: d, name: opts.Name, schema: opts.Schema, url: url}
	if d == SQLite {
		s.writer = make(chan struct{}, 1)
		// pgx already prepares and caches statements per connection
		// (QueryExecModeCacheStatement), so only SQLite needs ours.
		s.stmts.max = stmtCacheMax
	}
	s.registerStats()
	return s, nil
}

// SQL returns the connection pool, for queries outside a transaction.
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect reports which SQL dialect the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// Name returns Options.Name.
func (db *DB) Name() string { return db.name }

// Ping checks that the database answers; readiness probes call it.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Close stops exporting pool metrics, closes the cached prepared statements
// and closes the pool. It is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stmts.close()
		// First: a Reader opening now finishes before we look at it.
		db.reader.once.Do(func() { db.reader.err = errors.New("store: the database is closed") })
		for _, c := range []prometheus.Collector{db.stats, db.readerStats} {
			if c != nil {
				prometheus.DefaultRegisterer.Unregister(c)
			}
		}
		if db.reader.db != nil {
			_ = db.reader.db.Close()
		}
		db.closeErr = db.sql.Close()
	})
	return db.closeErr
}

// registerStats exports pool statistics as go_sql_* metrics labelled
// db_name=Name. Only the first open DB of a given name exports them: tests
// open many DBs under one name, and unregistering a later duplicate would
// remove the first one's collector, since the registry matches collectors by
// their descriptors.
func (db *DB) registerStats() {
	name := db.name
	if name == "" {
		name = string(db.dialect)
	}
	db.stats = registerPoolStats(db.sql, name)
}

// registerPoolStats exports the statistics of pool as db_name=name, and
// returns the collector to unregister; nil when that name is taken. The
// only failure is AlreadyRegisteredError (a DB of this name is open
// already); metrics are not worth failing Open over.
func registerPoolStats(pool *sql.DB, name string) prometheus.Collector {
	c := collectors.NewDBStatsCollector(pool, name)
	if err := prometheus.DefaultRegisterer.Register(c); err != nil {
		return nil
	}
	return c
}
