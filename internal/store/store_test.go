package store_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bamhq/bam/internal/rawsock"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want string
	}{
		{"", "no scheme"},
		{"./bam_data/auth.db", "no scheme"},
		{"mysql://root@localhost/bam", `unsupported database URL scheme "mysql"`},
		{"sqlite:", "no path"},
		{"sqlite:/tmp/x.db?_pragma=foo", "must not contain '?'"},
		{"postgres://user:secret@[::1", "parse postgres URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			db, err := store.Open(t.Context(), tt.url, store.Options{Name: "bad"})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "sqlite:PATH") {
				t.Errorf("error %q does not name the expected URL forms", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, url, file string
	}{
		{"relative form creates parent dirs", "sqlite:" + filepath.Join(dir, "a", "b", "auth.db"), filepath.Join(dir, "a", "b", "auth.db")},
		{"URL form", "sqlite://" + filepath.Join(dir, "url.db"), filepath.Join(dir, "url.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(t.Context(), tt.url, store.Options{Name: "auth"})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect() != store.SQLite || db.Name() != "auth" {
				t.Errorf("Dialect, Name = %s, %s", db.Dialect(), db.Name())
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Errorf("database file: %v", err)
			}
			pragmas := map[string]string{
				"journal_mode":       "wal",
				"foreign_keys":       "1",
				"synchronous":        "2", // FULL
				"busy_timeout":       "10000",
				"wal_autocheckpoint": "10000",
			}
			for p, want := range pragmas {
				var got string
				if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA "+p).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("PRAGMA %s = %s, want %s", p, got, want)
				}
			}
		})
	}
}

func TestOpenSQLiteMemory(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), "sqlite::memory:", store.Options{Name: "mem"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// One connection, so the migrated tables are there for later queries.
	if err := db.Migrate(t.Context(), things); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(t.Context(), func(tx *store.Tx) error { return insertThing(t.Context(), tx, 1, "a") }); err != nil {
		t.Fatal(err)
	}
	if n := countThings(t, db); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
}

func TestPostgresSchemaIsolation(t *testing.T) {
	t.Parallel()
	a := storetest.Open(t, store.Postgres, things)
	b := storetest.Open(t, store.Postgres, others)
	ctx := t.Context()
	if err := insertThing(ctx, a.SQL(), 1, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SQL().ExecContext(ctx, "SELECT 1 FROM things"); err == nil {
		t.Error("schema b sees schema a's things table")
	}
	if _, err := a.SQL().ExecContext(ctx, "SELECT 1 FROM others"); err == nil {
		t.Error("schema a sees schema b's others table")
	}
	// The same set migrates independently in each schema.
	if err := b.Migrate(ctx, things); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.SQL().QueryRowContext(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil || n != 0 {
		t.Errorf("schema b things: n=%d err=%v, want an empty table of its own", n, err)
	}
}

func TestPostgresSchemaCreatedAndQuoted(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	const schema = `Odd "Schema"`
	ctx := t.Context()
	db, err := store.Open(ctx, url, store.Options{Name: "odd", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = db.SQL().ExecContext(context.Background(), `DROP SCHEMA "Odd ""Schema""" CASCADE`)
		db.Close()
	}()
	var got string
	if err := db.SQL().QueryRowContext(ctx, "SELECT current_schema()").Scan(&got); err != nil || got != schema {
		t.Errorf("current_schema() = %q, %v; want %q", got, err, schema)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		if err := insertThing(ctx, db.SQL(), 1, "a"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			id       int64
			thing    string
			isUnique bool
		}{
			{"duplicate primary key", 1, "b", true},
			{"duplicate unique column", 2, "a", true},
		}
		for _, tt := range tests {
			err := db.InTx(ctx, func(tx *store.Tx) error { return insertThing(ctx, tx, tt.id, tt.thing) })
			if got := store.IsUniqueViolation(err); got != tt.isUnique {
				t.Errorf("%s: IsUniqueViolation(%v) = %v, want %v", tt.name, err, got, tt.isUnique)
			}
			if store.IsRetryable(err) {
				t.Errorf("%s: IsRetryable(%v) = true", tt.name, err)
			}
		}
		_, err := db.SQL().ExecContext(ctx, "INSERT INTO things (id) VALUES (3)") // NOT NULL, not unique
		if err == nil || store.IsUniqueViolation(err) {
			t.Errorf("NOT NULL violation: IsUniqueViolation(%v) = true or no error", err)
		}
		if store.IsUniqueViolation(nil) || store.IsUniqueViolation(errBoom) {
			t.Error("IsUniqueViolation true for nil or a plain error")
		}
	}, things)
}

func TestPoolMetrics(t *testing.T) {
	t.Parallel()
	// Two DBs of one name (as in tests): Open tolerates the duplicate, and
	// closing the second must not unregister the first one's metrics.
	open := func() *store.DB {
		db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "m.db"), store.Options{Name: "metricstest"})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	first := open()
	defer first.Close()
	if err := open().Close(); err != nil {
		t.Fatal(err)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "go_sql_max_open_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "db_name" && l.GetValue() == "metricstest" {
					return
				}
			}
		}
	}
	t.Error(`no go_sql_max_open_connections{db_name="metricstest"} metric`)
}

// TestPostgresConcurrentMigrate starts "replicas" that migrate one schema at
// once: the advisory lock must let exactly one apply each migration (without
// it, 8 replicas reliably collide on CREATE TABLE).
func TestPostgresConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	schema := "test_replicas_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	const replicas = 8
	dbs := make([]*store.DB, replicas)
	for i := range dbs {
		db, err := store.Open(t.Context(), url, store.Options{Name: "replica", Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	defer dbs[0].SQL().ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`)

	errs := make(chan error, replicas)
	for _, db := range dbs {
		go func() { errs <- db.Migrate(t.Context(), things, others) }()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("replica Migrate: %v", err)
		}
	}
	var n int
	if err := dbs[0].SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM goose_things WHERE version_id > 0").Scan(&n); err != nil || n != 2 {
		t.Errorf("goose_things: %d versions recorded, err %v; want 2", n, err)
	}
}

// TestPostgresRawSockets: the pool's TCP connections to PostgreSQL read
// and write with raw system calls (internal/rawsock) on Linux, and carry
// a statement and an answer many socket buffers long whole.
func TestPostgresRawSockets(t *testing.T) {
	t.Parallel()
	cfg, err := store.PostgresConfig(testenv.PostgresURL(t), store.Options{Name: "raw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	nc := conn.PgConn().Conn()
	if tc, ok := nc.(*tls.Conn); ok { // sslmode prefer or require, and a server with TLS on
		nc = tc.NetConn()
	}
	if tcp := !strings.HasPrefix(cfg.Host, "/"); tcp && rawsock.Supported && !rawsock.Wrapped(nc) {
		t.Errorf("connection is a %T, not rawsock's", nc)
	}
	big := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
	var n int
	var echo string
	if err := conn.QueryRow(t.Context(), "SELECT length($1::text), $1::text", big).Scan(&n, &echo); err != nil {
		t.Fatal(err)
	}
	if n != len(big) || echo != big {
		t.Errorf("length %d, echo of %d bytes equal: %v; want %d", n, len(echo), echo == big, len(big))
	}
}

func TestPostgresSessionDefaults(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	show := func(db *store.DB, name string) string {
		var v string
		if err := db.SQL().QueryRowContext(t.Context(), "SHOW "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	open := func(url string) *store.DB {
		db, err := store.Open(t.Context(), url, store.Options{Name: "defaults"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open(url)
	for name, want := range map[string]string{"jit": "off", "random_page_cost": "1.1"} {
		if got := show(db, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if got := show(open(url+sep+"random_page_cost=2&jit=on"), "random_page_cost"); got != "2" {
		t.Errorf("random_page_cost from the URL = %q, want 2", got)
	}
}
