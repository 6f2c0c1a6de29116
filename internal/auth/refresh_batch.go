package auth

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/batch"
	"github.com/bamhq/bam/internal/store"
)

// Group commit of refreshes. A refresh is a small write transaction, and
// what bounds their rate is the commit: a disk flush (SQLite with
// synchronous=FULL, PostgreSQL with synchronous_commit=on), which takes
// about as long on a typical disk however much it writes. So refreshes
// arriving while others are being written wait, and the next transaction
// carries all of them (up to refreshBatchMax) and commits them with one
// flush. A refresh arriving when nothing is being written runs at once:
// batching adds no wait to an idle service.
//
// Correctness does not depend on batching: inside its transaction a batch
// does what one refresh at a time would do in some order (see
// rotateBatch), and a batch that fails is retried one refresh per
// transaction, so one refresh's failure never fails another's.

const (
	// refreshBatchMax bounds the refreshes in one transaction, which holds
	// SQLite's write lock for a few milliseconds at that size.
	refreshBatchMax = 64
	// refreshBatchTimeout bounds a batch's database work; a batch runs for
	// several requests, so it does not stop when one of them goes away.
	refreshBatchTimeout = 30 * time.Second
)

// refreshSlots is how many batches run at once on dialect d: one on
// SQLite, which has one writer; on PostgreSQL two, so that one batch's
// round trips overlap the other's flush, and a batch waiting on a row lock
// does not hold up every refresh. (Measured with 16 clients on 2 cores:
// 2 slots gave the most refreshes/s; 4 cost the server 40% more CPU per
// refresh in smaller batches, 1 left it waiting on round trips.)
func refreshSlots(d store.Dialect) int {
	if d == store.SQLite {
		return 1
	}
	return refreshSlotsPostgres
}

// refreshSlotsPostgres is refreshSlots on PostgreSQL.
const refreshSlotsPostgres = 2

// refreshJob is one refresh in a batch: its input, and its outcome once
// the batch has run.
type refreshJob struct {
	token  string
	client string // the id of the client the caller authenticated as, "" for none
	caller client // the caller's address and agent: the batch runs with the first job's
	r      rotation
	err    error
}

// newRefresher returns the batcher refreshes join on dialect d; run
// (refreshBatch) gives every job its outcome.
func newRefresher(d store.Dialect, run func(ctx context.Context, jobs []*refreshJob)) *batch.Batcher[*refreshJob] {
	return batch.New("auth.refresh batch", refreshSlots(d), refreshBatchMax, refreshBatchTimeout, run)
}
