package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestStmtCache checks that Tx statements are prepared once and reused: the
// first transaction queues them, the next prepares them, later ones only
// reuse them.
func TestStmtCache(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		store.SetStmtCacheMax(db, 256) // on for PostgreSQL too
		for i := range int64(10) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insertThing(ctx, tx, i, fmt.Sprint("c", i)); err != nil {
					return err
				}
				var name string
				if err := tx.QueryRowContext(ctx, "SELECT name FROM things WHERE id = $1", i).Scan(&name); err != nil {
					return err
				}
				if name != fmt.Sprint("c", i) {
					t.Errorf("name = %q, want c%d", name, i)
				}
				// DDL is never cached.
				if _, err := tx.ExecContext(ctx, "CREATE TABLE scratch (id BIGINT)"); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "DROP TABLE scratch")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if prepares, cached := store.StmtCacheStats(db); prepares != 2 || cached != 2 {
			t.Errorf("prepares, cached = %d, %d; want 2, 2 (INSERT and SELECT, once each)", prepares, cached)
		}
		if n := countThings(t, db); n != 10 {
			t.Errorf("rows = %d, want 10", n)
		}
	}, things)
}

func TestStmtCacheBounded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		store.SetStmtCacheMax(db, 3)
		for range 3 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for i := range 10 {
					var n int
					if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT %d + $1", i), 1).Scan(&n); err != nil {
						return err
					}
					if n != i+1 {
						t.Errorf("SELECT %d + 1 = %d", i, n)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if prepares, cached := store.StmtCacheStats(db); prepares != 3 || cached != 3 {
			t.Errorf("prepares, cached = %d, %d; want 3, 3", prepares, cached)
		}
	})
}

// TestStmtCacheSameQueryNested reads the same query again while its rows are
// open in one transaction: on SQLite the cached statement has one cursor, so
// the second use must not share it.
func TestStmtCacheSameQueryNested(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite, things)
	ctx := t.Context()
	const q = "SELECT id FROM things WHERE id >= $1 ORDER BY id"
	for i := range int64(3) {
		if err := insertThing(ctx, db.SQL(), i+1, fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // queue, prepare, reuse
		var outer, inner []int64
		err := db.InTx(ctx, func(tx *store.Tx) error {
			rows, err := tx.QueryContext(ctx, q, 1)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, first int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				if err := tx.QueryRowContext(ctx, q, id).Scan(&first); err != nil {
					return err
				}
				outer, inner = append(outer, id), append(inner, first)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{1, 2, 3}; !slices.Equal(outer, want) || !slices.Equal(inner, want) {
			t.Errorf("outer %v, inner %v; want %v for both", outer, inner, want)
		}
	}
}

// TestStmtCacheSchemaChange alters a table under a cached SELECT *: the next
// transaction must see the new column (PostgreSQL fails the stale statement
// once; InTx retries with it re-prepared).
func TestStmtCacheSchemaChange(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		store.SetStmtCacheMax(db, 256) // on for PostgreSQL too
		const q = "SELECT * FROM things WHERE id = $1"
		if err := insertThing(ctx, db.SQL(), 1, "a"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				var (
					id         int64
					name, note any
				)
				return tx.QueryRowContext(ctx, q, 1).Scan(&id, &name, &note)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		before, _ := store.StmtCacheStats(db)
		if _, err := db.SQL().ExecContext(ctx, "ALTER TABLE things ADD COLUMN extra TEXT"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				var (
					id                int64
					name, note, extra any
				)
				return tx.QueryRowContext(ctx, q, 1).Scan(&id, &name, &note, &extra)
			})
			if err != nil {
				t.Fatalf("after ALTER TABLE: %v", err)
			}
		}
		// SQLite re-prepares the statement in place; PostgreSQL's was
		// dropped and prepared again.
		want := before
		if db.Dialect() == store.Postgres {
			want++
		}
		if after, _ := store.StmtCacheStats(db); after != want {
			t.Errorf("prepares = %d after the schema change, want %d", after, want)
		}
	}, things)
}

// TestStmtCacheConcurrent runs transactions sharing statements from many
// goroutines while the cache fills (run with -race).
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 8, 25
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		store.SetStmtCacheMax(db, 4)
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					id := int64(w*perWorker + i)
					errs <- db.InTx(ctx, func(tx *store.Tx) error {
						if err := insertThing(ctx, tx, id, fmt.Sprint("k", id)); err != nil {
							return err
						}
						var name string
						if err := tx.QueryRowContext(ctx, "SELECT name FROM things WHERE id = $1", id).Scan(&name); err != nil {
							return err
						}
						if name != fmt.Sprint("k", id) {
							return fmt.Errorf("name = %q, want k%d", name, id)
						}
						var n int
						if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT %d + $1", i%8), 1).Scan(&n); err != nil {
							return err
						}
						if n != i%8+1 {
							return fmt.Errorf("SELECT %d + 1 = %d", i%8, n)
						}
						_, err := tx.ExecContext(ctx, "UPDATE things SET note = $2 WHERE id = $1", id, "x")
						return err
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, cached := store.StmtCacheStats(db); cached > 4 {
			t.Errorf("cached = %d, want at most 4", cached)
		}
		if n := countThings(t, db); n != workers*perWorker {
			t.Errorf("rows = %d, want %d", n, workers*perWorker)
		}
	}, things)
}
