// Package storetest runs store-backed tests against every dialect: SQLite
// always, PostgreSQL when BAM_TEST_POSTGRES_URL is set (and it must be when
// BAM_TEST_REQUIRE_SERVICES=1). Each database it opens is fresh and private
// to the test — a temp SQLite file, or a uniquely named PostgreSQL schema
// dropped afterwards — so tests using it may call t.Parallel.
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/testenv"
)

// Run runs fn as one subtest per dialect ("sqlite", "postgres"), each on a
// fresh database with sets migrated. The postgres subtest skips when
// PostgreSQL is not configured, or fails if it is required.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB), sets ...store.MigrationSet) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d, sets...))
		})
	}
}

// Open returns a fresh database of dialect d with sets migrated, closed (and
// on PostgreSQL its schema dropped) when t ends. For PostgreSQL it skips or
// fails t as testenv.PostgresURL does.
func Open(t testing.TB, d store.Dialect, sets ...store.MigrationSet) *store.DB {
	t.Helper()
	var url string
	switch d {
	case store.SQLite:
		url = "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case store.Postgres:
		url = testenv.PostgresURL(t)
	default:
		t.Fatalf("storetest: unknown dialect %q", d)
	}
	return openDB(t, d, url, sets...)
}

// openDB opens url as Open does, in a fresh schema on PostgreSQL.
func openDB(t testing.TB, d store.Dialect, url string, sets ...store.MigrationSet) *store.DB {
	t.Helper()
	ctx := context.Background()
	opts := store.Options{Name: "test"}
	if d == store.Postgres {
		opts.Schema = "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	db, err := store.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", d, err)
	}
	t.Cleanup(func() {
		if opts.Schema != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			q := "DROP SCHEMA IF EXISTS " + pgx.Identifier{opts.Schema}.Sanitize() + " CASCADE"
			if _, err := db.SQL().ExecContext(ctx, q); err != nil {
				t.Errorf("storetest: drop schema %s: %v", opts.Schema, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Errorf("storetest: close %s: %v", d, err)
		}
	})
	if err := db.Migrate(ctx, sets...); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return db
}

// Dialects lists the dialects to test against: SQLite always, PostgreSQL when
// BAM_TEST_POSTGRES_URL is set. If PostgreSQL is required but not set it
// fails t. For table-driven tests and benchmarks that loop themselves.
func Dialects(t testing.TB) []store.Dialect {
	t.Helper()
	ds := []store.Dialect{store.SQLite}
	if testenv.Has(testenv.PostgresVar) {
		ds = append(ds, store.Postgres)
	} else if os.Getenv(testenv.RequireVar) == "1" {
		testenv.PostgresURL(t) // fails t
	}
	return ds
}

// Migrations builds a migration set whose files (name → body) serve both
// dialects, for test fixtures written in SQL the two share.
func Migrations(name string, files map[string]string) store.MigrationSet {
	fsys := fstest.MapFS{}
	for path, body := range files {
		fsys["sqlite/"+path] = &fstest.MapFile{Data: []byte(body)}
		fsys["postgres/"+path] = &fstest.MapFile{Data: []byte(body)}
	}
	return store.MigrationSet{Name: name, FS: fsys}
}
