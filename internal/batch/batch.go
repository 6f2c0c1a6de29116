// Package batch is group commit: jobs that arrive while a batch is being
// run wait, and the next batch carries all of them (up to a maximum),
// while a job arriving when a slot is free runs at once, alone, so
// batching adds no wait to an idle service. What a batch does with its
// jobs (one transaction, retries, each job's outcome) is the caller's.
package batch

import (
	"context"
	"sync"
	"time"
)

// Batcher runs jobs of type J in batches, at most slots batches at once.
type Batcher[J any] struct {
	slots   int
	max     int
	timeout time.Duration
	run     func(ctx context.Context, jobs []J)

	mu      sync.Mutex
	running int
	queue   []J
	waits   []chan struct{} // waits[i] is closed once queue[i] has run
}

// New returns a Batcher that runs up to slots batches at once, each of at
// most max jobs, by calling run, which must give every job its outcome
// before it returns. run gets a context with its first job's values,
// without its cancellation (a batch serves several callers, so it does
// not stop when one goes away), and bounded by timeout instead.
func New[J any](slots, max int, timeout time.Duration, run func(ctx context.Context, jobs []J)) *Batcher[J] {
	return &Batcher[J]{slots: max1(slots), max: max1(max), timeout: timeout, run: run}
}

func max1(n int) int { return max(n, 1) }

// Do runs j, alone at once when a slot is free, else in the next batch,
// and returns once the batch that ran j has returned.
func (b *Batcher[J]) Do(ctx context.Context, j J) {
	b.mu.Lock()
	if b.running < b.slots { // then the queue is empty: queued jobs only wait for busy slots
		b.running++
		b.mu.Unlock()
		b.lead(ctx, []J{j}, nil)
		return
	}
	done := make(chan struct{})
	b.queue = append(b.queue, j)
	b.waits = append(b.waits, done)
	b.mu.Unlock()
	<-done
}

// lead runs jobs in a slot and releases their waiters, then hands the slot
// to the jobs queued meanwhile, on a goroutine of their own so that this
// caller can answer.
func (b *Batcher[J]) lead(ctx context.Context, jobs []J, waits []chan struct{}) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	b.run(bctx, jobs)
	cancel()
	for _, w := range waits {
		close(w)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.running--
		return
	}
	n := min(len(b.queue), b.max)
	next, nextWaits := b.queue[:n:n], b.waits[:n:n]
	b.queue, b.waits = b.queue[n:], b.waits[n:]
	if len(b.queue) == 0 {
		b.queue, b.waits = nil, nil // let the backing arrays go
	}
	go b.lead(ctx, next, nextWaits)
}
