package content

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/batch"
	"github.com/bamhq/bam/internal/store"
)

// Group commit of record writes. What bounds the rate of small write
// transactions is the commit: SQLite has one writer at a time, and each
// commit appends to the WAL and flushes it to disk (synchronous=FULL),
// which costs about as much for one record as for fifty. So a write that
// arrives while another transaction is being written waits, and the next
// transaction carries every write queued meanwhile (up to writeBatchMax)
// and commits them with one flush. A write arriving when nothing is being
// written runs at once: an idle service adds no wait.
//
// Each write of a batch runs inside a savepoint of its own: one that fails
// (a validation error, a unique conflict, a rule) is rolled back alone and
// gets its error; the others commit. A batch whose transaction fails as a
// whole (its commit, a retryable error past store's retries) runs again
// one write per transaction, so the write at fault gets the error and the
// others their records.

const (
	// writeBatchMax bounds the writes in one transaction, which holds
	// SQLite's write lock for a few milliseconds at that size.
	writeBatchMax = 64
	// writeBatchTimeout bounds a batch's database work; a batch runs for
	// several requests, so it does not stop when one of them goes away.
	writeBatchTimeout = 30 * time.Second
)

// writeSlots is how many batches run at once on dialect d: one on SQLite,
// which has one writer; on PostgreSQL several, so that one batch's round
// trips overlap another's flush.
func writeSlots(d store.Dialect) int {
	if d == store.SQLite {
		return 1
	}
	return 4
}

// writeJob is one write of a batch: its work, and its outcome once the
// batch has run.
type writeJob struct {
	ctx context.Context // the request's values, without its cancellation
	fn  func(ctx context.Context, tx *store.Tx) error
	err error
}

// committer queues writes while its slots are busy, and runs each queue
// as the next batch.
type committer struct {
	db    *store.DB
	batch *batch.Batcher[*writeJob]
}

func newCommitter(db *store.DB) *committer {
	c := &committer{db: db}
	c.batch = batch.New(writeSlots(db.Dialect()), writeBatchMax, writeBatchTimeout, c.run)
	return c
}

// do runs fn in a write transaction, alone at once when a slot is free,
// else with the writes queued beside it, and returns fn's error or the
// transaction's. fn may run more than once (store.DB.InTx's retries, a
// failed batch run again alone): it must set its results afresh each time.
// fn gets ctx's values without its cancellation; the transaction is
// bounded by writeBatchTimeout instead.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx *store.Tx) error) error {
	j := &writeJob{ctx: context.WithoutCancel(ctx), fn: fn}
	c.batch.Do(ctx, j)
	return j.err
}

// run writes jobs in one transaction and sets their outcome. A lone job
// runs as it would without batching.
func (c *committer) run(ctx context.Context, jobs []*writeJob) {
	if len(jobs) == 1 {
		j := jobs[0]
		j.err = c.db.InTx(ctx, func(tx *store.Tx) error { return j.fn(j.ctx, tx) })
		return
	}
	err := c.db.InTx(ctx, func(tx *store.Tx) error {
		for _, j := range jobs {
			if err := j.runIn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, j := range jobs {
			c.run(ctx, []*writeJob{j})
		}
	}
}

// runIn runs j inside a savepoint of tx, keeping its error and rolling
// back its work when it fails. The error returned fails the whole
// transaction: a retryable one (the transaction must start over), or a
// savepoint that could not be handled.
func (j *writeJob) runIn(tx *store.Tx) error {
	if _, err := tx.ExecContext(j.ctx, "SAVEPOINT bam_write"); err != nil {
		return err
	}
	j.err = j.fn(j.ctx, tx)
	if j.err == nil {
		_, err := tx.ExecContext(j.ctx, "RELEASE SAVEPOINT bam_write")
		return err
	}
	if store.IsRetryable(j.err) {
		return j.err
	}
	if _, err := tx.ExecContext(j.ctx, "ROLLBACK TO SAVEPOINT bam_write"); err != nil {
		return err
	}
	_, err := tx.ExecContext(j.ctx, "RELEASE SAVEPOINT bam_write")
	return err
}
