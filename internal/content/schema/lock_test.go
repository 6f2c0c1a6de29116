package schema_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// TestSchemaChangeLockTimeout: on PostgreSQL a schema change does not
// wait for ever behind a transaction reading the table (queueing every
// later reader behind itself): it gives up after schema.LockTimeout with
// a conflict to retry, and the caller's lock_timeout is left as it was.
func TestSchemaChangeLockTimeout(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		if e.db.Dialect() != store.Postgres {
			t.Skip("SQLite has one writer and no lock_timeout")
		}
		e.create(schema.Collection{Name: "docs", Fields: []schema.Field{{Name: "title", Type: schema.Text}}})
		reader, err := e.db.SQL().BeginTx(e.ctx(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = reader.Rollback() }()
		var n int
		if err := reader.QueryRowContext(e.ctx(), "SELECT count(*) FROM c_docs").Scan(&n); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(e.ctx(), 20*time.Second)
		defer cancel()
		changes := map[string]func(tx *store.Tx) error{
			"update": func(tx *store.Tx) error {
				next := e.edit("docs")
				next.Fields = append(next.Fields, schema.Field{Name: "body", Type: schema.Text})
				_, err := e.reg.Update(ctx, tx, "docs", next)
				return err
			},
			"delete": func(tx *store.Tx) error { return e.reg.Delete(ctx, tx, "docs") },
		}
		for name, change := range changes {
			start := time.Now()
			err := e.db.InTx(ctx, change)
			took := time.Since(start)
			if x := errs.As(err); x == nil || x.Kind != errs.Conflict || x.Code != schema.CodeConflict || !strings.Contains(x.Message, "busy, retry") {
				t.Errorf("%s while the table is read: %v after %v, want a conflict saying it is busy", name, err, took)
			}
			if took > 10*time.Second {
				t.Errorf("%s gave up after %v", name, took)
			}
		}
		_ = reader.Rollback()
		// Without the reader the change goes through, and leaves the
		// transaction's own setting alone.
		err = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
			if _, err := tx.ExecContext(e.ctx(), "SET LOCAL lock_timeout = '42s'"); err != nil {
				return err
			}
			if err := changes["update"](tx); err != nil {
				return err
			}
			var setting string
			if err := tx.QueryRowContext(e.ctx(), "SELECT current_setting('lock_timeout')").Scan(&setting); err != nil {
				return err
			}
			if setting != "42s" {
				t.Errorf("lock_timeout after the change = %q, want the caller's 42s", setting)
			}
			return nil
		})
		if err != nil {
			t.Fatal(describe(err))
		}
	})
}
