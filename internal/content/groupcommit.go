package content

import (
	"context"
	"errors"
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
// written runs at once: an idle service adds no wait. What a write can do
// without the database is done before it queues (a create is drafted:
// draftCreate), so that a batch holds the writer only for statements.
//
// A batch runs its writes one after the other in one transaction, with
// no savepoints: releasing a savepoint makes SQLite's FTS5 flush its
// pending index to a new segment, so a savepoint per write cost a segment
// (and its merge) per record. When a write fails (a validation error, a
// unique conflict, a rule), the transaction is rolled back, that write
// gets its error, and the writes before it run again as one batch, those
// after it as another: each write runs at most twice for a failure, and
// the outcome is the one of running the batch's writes in order. A write
// that fails before running any statement (invalid input) leaves nothing
// to undo and costs its batch nothing. A batch
// whose transaction fails as a whole (its commit, a retryable error past
// store's retries) runs again one write per transaction, so the write at
// fault gets the error and the others their records — except when the
// commit's answer was lost (store.ErrCommitUnknown): the batch may have
// been applied, running it again could make every create twice, so each
// of its writes gets that error.

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
	c.batch = batch.New("content.write batch", writeSlots(db.Dialect()), writeBatchMax, writeBatchTimeout, c.run)
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
	if len(jobs) == 0 {
		return
	}
	if len(jobs) == 1 {
		j := jobs[0]
		j.err = c.db.InTx(ctx, func(tx *store.Tx) error { return j.fn(j.ctx, tx) })
		return
	}
	failed := -1
	err := c.db.InTx(ctx, func(tx *store.Tx) error {
		failed = -1
		for i, j := range jobs {
			before := tx.Statements()
			j.err = j.fn(j.ctx, tx)
			switch {
			case j.err == nil:
			case store.IsRetryable(j.err):
				return j.err // the transaction starts over, every write with it
			case tx.Statements() == before:
				// It failed before running a statement (bad input, a rule
				// decided in memory): nothing of it to undo.
			default:
				failed = i
				return errWriteFailed
			}
		}
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errWriteFailed) && failed >= 0:
		// jobs[failed] keeps its error; its neighbours' work was rolled back.
		c.run(ctx, jobs[:failed])
		c.run(ctx, jobs[failed+1:])
	case errors.Is(err, store.ErrCommitUnknown):
		for _, j := range jobs {
			if j.err == nil { // a write that failed before any statement keeps its error
				j.err = err
			}
		}
	default:
		for _, j := range jobs {
			c.run(ctx, []*writeJob{j})
		}
	}
}

// errWriteFailed ends a batch's transaction when one of its writes failed.
var errWriteFailed = errors.New("content: a write of the batch failed")
