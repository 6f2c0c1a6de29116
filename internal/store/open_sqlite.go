package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqliteParams configure every SQLite connection (modernc applies them on
// connect, busy_timeout first):
//   - journal_mode(WAL): readers never block the writer nor the writer them.
//   - synchronous(FULL): an acknowledged commit survives power loss; NORMAL
//     would only protect against application crashes under WAL.
//   - foreign_keys(1): off by default in SQLite, per connection.
//   - wal_autocheckpoint(10000): the WAL is copied back into the database
//     file once it holds 10,000 pages (~40 MB) instead of 1,000. The
//     commit that crosses the mark does the copy, and a page written again
//     between two checkpoints is copied once, so the hot pages (an index's
//     last leaf, the outbox's) were copied ten times as often: checkpoints
//     took ~4 % of the CPU of a create load; with the larger mark a create
//     took 7 % less CPU and 11 % more were served a second (means of three
//     A/B pairs, scripts/bench-content LOADS=create). The WAL file grows to
//     that size and stays (it is reused, not truncated).
//   - busy_timeout(10000): wait up to 10s for the write lock instead of
//     failing with SQLITE_BUSY at once.
//   - _txlock=immediate: BEGIN takes the write lock, so two transactions that
//     read then write cannot deadlock upgrading their locks (which
//     busy_timeout cannot resolve). The price: every InTx is a writer.
//   - _time_format=sqlite: time.Time is written as "2006-01-02 15:04:05.999999999-07:00",
//     which SQLite's date functions understand (the default is Go's
//     time.String layout).
var sqliteParams = url.Values{
	"_pragma": {
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(1)",
		"wal_autocheckpoint(10000)",
	},
	"_txlock":      {"immediate"},
	"_time_format": {"sqlite"},
}.Encode()

// Pool sizes: SQLite has one writer at a time, so more connections only add
// readers; a few cover a service's concurrent reads without piling up
// writers on the busy handler.
const sqliteMaxOpenConns = 8

// openSQLite opens the database file at path ("sqlite:" already removed).
func openSQLite(path string, opts Options) (*sql.DB, error) {
	// Accept sqlite://rel/path and sqlite:///abs/path as well as sqlite:path.
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, fmt.Errorf("store: sqlite URL has no path: %s", urlForms)
	}
	if strings.ContainsRune(path, '?') {
		// modernc splits the DSN at the first '?', and connection
		// parameters are this package's to choose.
		return nil, fmt.Errorf("store: sqlite path %q must not contain '?' (parameters are fixed by bam): %s", path, urlForms)
	}
	memory := path == ":memory:"
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	db, err := otelsql.Open("sqlite", path+"?"+sqliteParams, otelOptions(SQLite, opts)...)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if memory {
		// Every connection to :memory: is a separate, empty database, so
		// the pool must hold exactly one, forever. Consequence: inside InTx,
		// use the Tx; a query on DB.SQL() would wait for the Tx's connection.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, nil
	}
	db.SetMaxOpenConns(sqliteMaxOpenConns)
	db.SetMaxIdleConns(sqliteMaxOpenConns)
	// SQLite connections are local and never go stale: keep them, and the
	// per-connection pragmas they have already run.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// otelOptions trace database calls through the global tracer provider.
func otelOptions(d Dialect, opts Options) []otelsql.Option {
	system := semconv.DBSystemNameSQLite
	if d == Postgres {
		system = semconv.DBSystemNamePostgreSQL
	}
	attrs := []attribute.KeyValue{system}
	if opts.Name != "" {
		attrs = append(attrs, semconv.DBNamespace(opts.Name))
	}
	return []otelsql.Option{
		otelsql.WithAttributes(attrs...),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableErrSkip:       true,
			OmitConnResetSession: true, // one per pooled-connection reuse: noise
			SpanFilter:           inSampledTrace,
		}),
	}
}

// inSampledTrace keeps statements' spans to traces that are recorded. In a
// trace that is not (every request's, without an OTLP endpoint) a span
// per statement showed nowhere and cost ~2 % of a record write's CPU; a
// statement with no trace at all (a background job's) would start a trace
// of its own, one span long.
func inSampledTrace(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
	return trace.SpanContextFromContext(ctx).IsSampled()
}
