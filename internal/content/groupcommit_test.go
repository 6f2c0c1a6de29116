package content

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

var groupCommitFixture = storetest.Migrations("groupcommit_test", map[string]string{"00001_init.sql": "-- +goose Up\n" +
	"CREATE TABLE gc_rows (id TEXT PRIMARY KEY, job INTEGER NOT NULL);\n-- +goose Down\nDROP TABLE gc_rows;\n"})

// TestCommitterBatches sends many concurrent writes through the committer:
// they share transactions; the writes that fail, after writing or before
// any statement, leave no row and get their own error; a write that fails its whole transaction
// (a retryable error, every time) gets its error while the writes batched
// with it commit; a write whose row collides with another's fails alone.
func TestCommitterBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newCommitter(db)
		errBad := errors.New("bad write")
		errEarly := errors.New("bad input")
		retryable := &pgconn.PgError{Code: "40001"} // store.IsRetryable: the transaction must start over
		if !store.IsRetryable(retryable) {
			t.Fatal("the fixture's error is not retryable")
		}
		const n = 120
		var (
			mu      sync.Mutex
			perTx   = map[*store.Tx]int{}
			results = make([]error, n)
			wg      sync.WaitGroup
		)
		insert := func(ctx context.Context, tx *store.Tx, id string, job int) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO gc_rows (id, job) VALUES ($1, $2)", id, job)
			return err
		}
		for i := range n {
			wg.Go(func() {
				results[i] = c.do(ctx, func(ctx context.Context, tx *store.Tx) error {
					mu.Lock()
					perTx[tx]++
					mu.Unlock()
					if i%10 == 5 {
						return errEarly // before any statement: nothing to undo
					}
					id := fmt.Sprint("r", i)
					if i%40 == 39 {
						id = "r0" // collides with write 0 (or write 0 with it)
					}
					if err := insert(ctx, tx, id, i); err != nil {
						return err
					}
					switch {
					case i%10 == 3:
						return errBad // after writing: its row must go
					case i == 77:
						return retryable
					}
					return nil
				})
			})
		}
		wg.Wait()

		batched := 0
		for _, k := range perTx {
			batched = max(batched, k)
		}
		if batched < 2 {
			t.Errorf("no two writes shared a transaction (%d transactions)", len(perTx))
		}
		rows, err := db.SQL().QueryContext(ctx, "SELECT id, job FROM gc_rows")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		stored := map[int]string{}
		for rows.Next() {
			var id string
			var job int
			if err := rows.Scan(&id, &job); err != nil {
				t.Fatal(err)
			}
			stored[job] = id
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		r0 := 0 // writes holding "r0": exactly one
		for i, err := range results {
			_, ok := stored[i]
			collides := i == 0 || i%40 == 39
			switch {
			case i%10 == 5:
				if !errors.Is(err, errEarly) || ok {
					t.Errorf("write %d: err %v, row stored %v; want errEarly and no row", i, err, ok)
				}
			case i%10 == 3:
				if !errors.Is(err, errBad) || ok {
					t.Errorf("write %d: err %v, row stored %v; want errBad and no row", i, err, ok)
				}
			case i == 77:
				if !errors.Is(err, retryable) || ok {
					t.Errorf("write %d: err %v, row stored %v; want the retryable error and no row", i, err, ok)
				}
			case collides:
				if (err == nil) != ok || (err != nil && !store.IsUniqueViolation(err)) {
					t.Errorf("write %d (r0): err %v, row stored %v", i, err, ok)
				}
				if ok {
					r0++
				}
			default:
				if err != nil || !ok {
					t.Errorf("write %d: err %v, row stored %v; want a row", i, err, ok)
				}
			}
		}
		if r0 != 1 {
			t.Errorf("%d writes hold r0, want 1", r0)
		}
	}, groupCommitFixture)
}

// TestCommitterCommitUnknown loses the answer to a batch's COMMIT
// (PostgreSQL, through storetest's cutter): the batch was applied, so its
// writes must not run again — a create run twice is two records — and
// each gets store.ErrCommitUnknown; the batches after it commit.
func TestCommitterCommitUnknown(t *testing.T) {
	db, cut := storetest.OpenCutOnCommit(t, groupCommitFixture)
	ctx := context.Background()
	c := newCommitter(db)
	cut.Arm(2) // the first transaction that carries two writes or more
	const n = 60
	var (
		results = make([]error, n)
		serial  atomic.Int64
		wg      sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			results[i] = c.do(ctx, func(ctx context.Context, tx *store.Tx) error {
				// A fresh id each run, as a create's: a rerun adds a row.
				_, err := tx.ExecContext(ctx, "INSERT INTO gc_rows (id, job) VALUES ($1, $2)",
					fmt.Sprint("r", serial.Add(1)), i)
				return err
			})
		})
	}
	wg.Wait()
	if cut.Cuts() != 1 {
		t.Fatalf("%d commits cut, want 1 (no transaction carried two writes?)", cut.Cuts())
	}
	rows := map[int]int{}
	r, err := db.SQL().QueryContext(ctx, "SELECT job FROM gc_rows")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var job int
		if err := r.Scan(&job); err != nil {
			t.Fatal(err)
		}
		rows[job]++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for i, err := range results {
		switch {
		case err == nil && rows[i] == 1:
		case errors.Is(err, store.ErrCommitUnknown) && rows[i] == 1: // applied, unbeknown to the client
			unknown++
		default:
			t.Errorf("write %d: err %v, %d rows; want one row, and nil or ErrCommitUnknown", i, err, rows[i])
		}
	}
	if unknown < 2 {
		t.Errorf("%d writes told their outcome is unknown, want the cut batch's (≥ 2)", unknown)
	}
}
