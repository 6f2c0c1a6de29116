package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func insertThing(ctx context.Context, q store.Querier, id int64, name string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO things (id, name) VALUES ($1, $2)", id, name)
	return err
}

func countThings(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(context.Background(), "SELECT count(*) FROM things").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var errBoom = errors.New("boom")

func TestInTx(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		tests := []struct {
			name      string
			fn        func(tx *store.Tx, hook func()) error
			wantErr   error
			wantPanic bool
			wantRows  int
			wantHooks int
		}{
			{
				name: "nil commits and runs hooks",
				fn: func(tx *store.Tx, hook func()) error {
					tx.OnCommit(hook)
					tx.OnCommit(hook)
					return insertThing(context.Background(), tx, 1, "a")
				},
				wantRows: 1, wantHooks: 2,
			},
			{
				name: "error rolls back, no hooks",
				fn: func(tx *store.Tx, hook func()) error {
					tx.OnCommit(hook)
					if err := insertThing(context.Background(), tx, 1, "a"); err != nil {
						return err
					}
					return fmt.Errorf("wrapped: %w", errBoom)
				},
				wantErr: errBoom,
			},
			{
				name: "panic rolls back and re-panics",
				fn: func(tx *store.Tx, hook func()) error {
					tx.OnCommit(hook)
					if err := insertThing(context.Background(), tx, 1, "a"); err != nil {
						return err
					}
					panic(errBoom)
				},
				wantPanic: true,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := db.SQL().ExecContext(t.Context(), "DELETE FROM things"); err != nil {
					t.Fatal(err)
				}
				hooks := 0
				var err error
				recovered := func() (r any) {
					defer func() { r = recover() }()
					err = db.InTx(t.Context(), func(tx *store.Tx) error {
						if tx.Dialect() != db.Dialect() {
							t.Errorf("tx.Dialect() = %s, want %s", tx.Dialect(), db.Dialect())
						}
						return tt.fn(tx, func() { hooks++ })
					})
					return nil
				}()
				if tt.wantPanic != (recovered != nil) || (recovered != nil && recovered != errBoom) {
					t.Errorf("panic = %v, want panic %v with errBoom", recovered, tt.wantPanic)
				}
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if n := countThings(t, db); n != tt.wantRows {
					t.Errorf("rows = %d, want %d", n, tt.wantRows)
				}
				if hooks != tt.wantHooks {
					t.Errorf("hooks run = %d, want %d", hooks, tt.wantHooks)
				}
			})
		}
	}, things)
}

func TestInTxOnCommitSeesCommittedData(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		seen := -1
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			// Runs on another connection: it must see the row, so the
			// hook must run after the commit.
			tx.OnCommit(func() { seen = countThings(t, db) })
			return insertThing(t.Context(), tx, 1, "a")
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != 1 {
			t.Errorf("hook saw %d rows, want 1 (committed)", seen)
		}
	}, things)
}

func TestInTxRetry(t *testing.T) {
	t.Parallel()
	serialization := &pgconn.PgError{Code: "40001"}
	unique := &pgconn.PgError{Code: "23505"}
	tests := []struct {
		name         string
		failures     int   // attempts that fail with err before one succeeds
		err          error // the failure
		wantAttempts int
		wantErr      error
	}{
		{"retryable error retried", 1, fmt.Errorf("wrapped: %w", serialization), 2, nil},
		{"deadlock retried", 2, &pgconn.PgError{Code: "40P01"}, 3, nil},
		{"gives up after a few attempts", 100, serialization, 5, serialization},
		{"other errors not retried", 100, errBoom, 1, errBoom},
		{"unique violation not retried", 100, unique, 1, unique},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				attempts, hooks := 0, 0
				err := db.InTx(t.Context(), func(tx *store.Tx) error {
					attempts++
					tx.OnCommit(func() { hooks++ })
					if err := insertThing(t.Context(), tx, int64(i), fmt.Sprint("retry", i)); err != nil {
						return err
					}
					if attempts <= tt.failures {
						return tt.err
					}
					return nil
				})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if attempts != tt.wantAttempts {
					t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
				}
				wantHooks := 0
				if tt.wantErr == nil {
					wantHooks = 1 // only the attempt that committed
				}
				if hooks != wantHooks {
					t.Errorf("hooks run = %d, want %d", hooks, wantHooks)
				}
			})
		}
	}, things)
}

func TestInTxRetryStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx, cancel := context.WithCancel(t.Context())
	err := db.InTx(ctx, func(tx *store.Tx) error {
		cancel()
		return &pgconn.PgError{Code: "40001"}
	})
	if !errors.Is(err, context.Canceled) || !store.IsRetryable(err) {
		t.Errorf("err = %v, want the retryable error and context.Canceled", err)
	}
}

// TestInTxConcurrentWriters runs many read-then-write transactions at once.
// On SQLite this is the pattern that deadlocks on lock upgrade unless BEGIN
// takes the write lock; none may fail with SQLITE_BUSY.
func TestInTxConcurrentWriters(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 8, 50
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker)
		for range workers {
			wg.Go(func() {
				for range perWorker {
					errs <- db.InTx(t.Context(), func(tx *store.Tx) error {
						var n int
						if err := tx.QueryRowContext(t.Context(), "SELECT count(*) FROM things").Scan(&n); err != nil {
							return err
						}
						id := next.Add(1)
						return insertThing(t.Context(), tx, id, fmt.Sprint("w", id))
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent InTx: %v", err)
			}
		}
		if n := countThings(t, db); n != workers*perWorker {
			t.Errorf("rows = %d, want %d", n, workers*perWorker)
		}
	}, things)
}

func BenchmarkInTxInsert(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d, things)
			ctx := b.Context()
			var id int64
			for b.Loop() {
				id++
				err := db.InTx(ctx, func(tx *store.Tx) error {
					return insertThing(ctx, tx, id, fmt.Sprint("bench", id))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInTxSixStatements runs six small statements per transaction, the
// shape of a typical service write (auth refresh runs seven): per-statement
// overhead, parsing included, dominates.
func BenchmarkInTxSixStatements(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d, things)
			ctx := b.Context()
			var id int64
			for b.Loop() {
				id++
				err := db.InTx(ctx, func(tx *store.Tx) error {
					if err := insertThing(ctx, tx, id, fmt.Sprint("bench", id)); err != nil {
						return err
					}
					var name string
					if err := tx.QueryRowContext(ctx, "SELECT name FROM things WHERE id = $1", id).Scan(&name); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, "UPDATE things SET note = $2 WHERE id = $1", id, "n"); err != nil {
						return err
					}
					var note string
					if err := tx.QueryRowContext(ctx, "SELECT note FROM things WHERE id = $1", id).Scan(&note); err != nil {
						return err
					}
					rows, err := tx.QueryContext(ctx, "SELECT id, name FROM things WHERE id <= $1 ORDER BY id DESC LIMIT 3", id)
					if err != nil {
						return err
					}
					for rows.Next() {
						var (
							i int64
							n string
						)
						if err := rows.Scan(&i, &n); err != nil {
							rows.Close()
							return err
						}
					}
					if err := rows.Close(); err != nil {
						return err
					}
					_, err = tx.ExecContext(ctx, "DELETE FROM things WHERE id = $1", id-2)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
