// Package batch is group commit: jobs that arrive while a batch is being
// run wait, and the next batch carries all of them (up to a maximum),
// while a job arriving when a slot is free runs at once, alone, so
// batching adds no wait to an idle service. What a batch does with its
// jobs (one transaction, retries, each job's outcome) is the caller's.
//
// A batch of several jobs is traced as a span of its own, a new root
// linked to each job's caller span: its work is done for all of them, so
// it is filed under none of their traces (a lone job runs in its
// caller's trace).
package batch

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Batcher runs jobs of type J in batches, at most slots batches at once.
type Batcher[J any] struct {
	name    string
	slots   int
	max     int
	timeout time.Duration
	run     func(ctx context.Context, jobs []J)

	mu      sync.Mutex
	running int
	queue   []J
	ctxs    []context.Context // ctxs[i] is queue[i]'s caller's
	waits   []chan struct{}   // waits[i] is closed once queue[i] has run
}

// New returns a Batcher that runs up to slots batches at once, each of at
// most max jobs, by calling run, which must give every job its outcome
// before it returns. run gets a context with its first job's values,
// without its cancellation (a batch serves several callers, so it does
// not stop when one goes away), and bounded by timeout instead. name
// names the span of a batch of several jobs.
func New[J any](name string, slots, max int, timeout time.Duration, run func(ctx context.Context, jobs []J)) *Batcher[J] {
	return &Batcher[J]{name: name, slots: max1(slots), max: max1(max), timeout: timeout, run: run}
}

func max1(n int) int { return max(n, 1) }

// Do runs j, alone at once when a slot is free, else in the next batch,
// and returns once the batch that ran j has returned.
func (b *Batcher[J]) Do(ctx context.Context, j J) {
	b.mu.Lock()
	if b.running < b.slots { // then the queue is empty: queued jobs only wait for busy slots
		b.running++
		b.mu.Unlock()
		b.lead([]context.Context{ctx}, []J{j}, nil)
		return
	}
	done := make(chan struct{})
	b.queue = append(b.queue, j)
	b.ctxs = append(b.ctxs, ctx)
	b.waits = append(b.waits, done)
	b.mu.Unlock()
	<-done
}

// lead runs jobs in a slot and releases their waiters, then hands the slot
// to the jobs queued meanwhile, on a goroutine of their own so that this
// caller can answer.
func (b *Batcher[J]) lead(ctxs []context.Context, jobs []J, waits []chan struct{}) {
	ctx, end := b.start(ctxs)
	bctx, cancel := context.WithTimeout(ctx, b.timeout)
	b.run(bctx, jobs)
	cancel()
	end()
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
	next, nextCtxs, nextWaits := b.queue[:n:n], b.ctxs[:n:n], b.waits[:n:n]
	b.queue, b.ctxs, b.waits = b.queue[n:], b.ctxs[n:], b.waits[n:]
	if len(b.queue) == 0 {
		b.queue, b.ctxs, b.waits = nil, nil, nil // let the backing arrays go
	}
	go b.lead(nextCtxs, next, nextWaits)
}

// start returns the context a batch runs in, its first job's values
// without its cancellation, and what ends its span: a lone job stays in
// its caller's trace; several get a new root span linked to their
// callers' spans.
func (b *Batcher[J]) start(ctxs []context.Context) (context.Context, func()) {
	ctx := context.WithoutCancel(ctxs[0])
	if len(ctxs) == 1 {
		return ctx, func() {}
	}
	links := make([]trace.Link, 0, len(ctxs))
	for _, c := range ctxs {
		if sc := trace.SpanContextFromContext(c); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := otel.Tracer("github.com/bamhq/bam/internal/batch").Start(ctx, b.name, trace.WithNewRoot(),
		trace.WithLinks(links...), trace.WithAttributes(attribute.Int("batch.jobs", len(ctxs))))
	return ctx, func() { span.End() }
}
