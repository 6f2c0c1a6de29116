package auth

import (
	"context"
	"sync"
	"time"

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
// done is closed.
type refreshJob struct {
	token  string
	client string // the id of the client the caller authenticated as, "" for none
	r      rotation
	err    error
	done   chan struct{}
}

// batcher queues jobs while slots batches are running, and runs each
// queue as the next batch.
type batcher struct {
	slots int                                           // batches running at once
	run   func(ctx context.Context, jobs []*refreshJob) // runs a batch, closes every job's done

	mu      sync.Mutex
	running int
	queue   []*refreshJob
}

// do runs j, alone at once when a slot is free, else in the next batch,
// and returns when j is done.
func (b *batcher) do(ctx context.Context, j *refreshJob) {
	b.mu.Lock()
	if b.running < b.slots { // then the queue is empty: queued jobs only wait for busy slots
		b.running++
		b.mu.Unlock()
		b.lead(ctx, []*refreshJob{j})
		return
	}
	b.queue = append(b.queue, j)
	b.mu.Unlock()
	<-j.done
}

// lead runs jobs in a slot, then hands the slot to the jobs queued
// meanwhile, on a goroutine of their own so that this caller can answer.
func (b *batcher) lead(ctx context.Context, jobs []*refreshJob) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshBatchTimeout)
	b.run(bctx, jobs)
	cancel()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.running--
		return
	}
	n := min(len(b.queue), refreshBatchMax)
	next := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the backing array go
	}
	go b.lead(ctx, next)
}
