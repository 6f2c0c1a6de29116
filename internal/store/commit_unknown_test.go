package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestCommitOutcomeUnknown breaks the connection between a COMMIT reaching
// PostgreSQL and its answer reaching the client: the transaction is
// applied, InTx says the outcome is unknown and does not run fn again. A
// COMMIT the server refuses is a known failure.
func TestCommitOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	db, cut := storetest.OpenCutOnCommit(t, things, migrations("deferred", map[string]string{
		"00001_deferred.sql": `-- +goose Up
CREATE TABLE deferred (id BIGINT PRIMARY KEY DEFERRABLE INITIALLY DEFERRED);
-- +goose Down
DROP TABLE deferred;
`,
	}))

	cut.Arm(1)
	runs := 0
	err := db.InTx(ctx, func(tx *store.Tx) error {
		runs++
		return insertThing(ctx, tx, 1, "one")
	})
	if !errors.Is(err, store.ErrCommitUnknown) {
		t.Fatalf("a commit whose answer was lost: %v, want ErrCommitUnknown", err)
	}
	if k := errs.KindOf(err); k != errs.Unavailable {
		t.Errorf("kind %q, want %q (a 503 that says to read before retrying)", k, errs.Unavailable)
	}
	if runs != 1 || cut.Cuts() != 1 {
		t.Errorf("fn ran %d times, %d commits cut; want 1 and 1", runs, cut.Cuts())
	}
	if n := countThings(t, db); n != 1 {
		t.Errorf("%d rows after the cut commit, want 1 (it was applied)", n)
	}

	// The server refuses this commit (a deferred key collides): nothing
	// applied, and it is said so.
	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO deferred (id) VALUES (1), (1)")
		return err
	})
	if err == nil || errors.Is(err, store.ErrCommitUnknown) || !store.IsUniqueViolation(err) {
		t.Errorf("a commit the server refused: %v, want a unique violation, not ErrCommitUnknown", err)
	}

	// Unarmed, commits pass.
	if err := db.InTx(ctx, func(tx *store.Tx) error { return insertThing(ctx, tx, 2, "two") }); err != nil {
		t.Fatal(err)
	}
	if n := countThings(t, db); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// TestCommitOutcomeKnown: which COMMIT failures certainly did not apply.
func TestCommitOutcomeKnown(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   error
		known bool
	}{
		{"the server refused it", &pgconn.PgError{Code: "23505"}, true},
		{"the server answered ROLLBACK", pgx.ErrTxCommitRollback, true},
		{"the transaction had ended", sql.ErrTxDone, true},
		{"database/sql did not send it: canceled", context.Canceled, true},
		{"database/sql did not send it: deadline", context.DeadlineExceeded, true},
		{"the deadline hit while waiting for the answer", fmt.Errorf("timeout: %w", context.DeadlineExceeded), false},
		{"the connection broke", errors.New("conn closed"), false},
		{"unexpected EOF", io.ErrUnexpectedEOF, false},
	} {
		if got := store.CommitOutcomeKnown(tt.err); got != tt.known {
			t.Errorf("%s (%v): known %v, want %v", tt.name, tt.err, got, tt.known)
		}
	}
}
