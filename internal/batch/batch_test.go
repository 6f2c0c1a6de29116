package batch

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestBatcherGroupsWaitingJobs: a job that finds a free slot runs at once
// and alone; jobs arriving while every slot is busy wait and run together
// as the next batch (at most max per batch); every job runs exactly once,
// and its caller returns only after that.
func TestBatcherGroupsWaitingJobs(t *testing.T) {
	const maxJobs = 8
	var (
		mu      sync.Mutex
		batches [][]int
		ran     = map[int]int{}
	)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b := New("test", 1, maxJobs, time.Second, func(ctx context.Context, jobs []int) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the batch's context has no deadline")
		}
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, jobs)
		mu.Unlock()
		if first {
			started <- struct{}{}
			<-release // hold the only slot while the others queue
		}
		mu.Lock()
		defer mu.Unlock()
		for _, j := range jobs {
			ran[j]++
		}
	})
	ctx := context.Background()
	do := func(j int) {
		b.Do(ctx, j)
		mu.Lock()
		defer mu.Unlock()
		if ran[j] != 1 {
			t.Errorf("job %d returned having run %d times", j, ran[j])
		}
	}

	var wg sync.WaitGroup
	wg.Go(func() { do(-1) })
	<-started
	waiting := maxJobs + 3
	for i := range waiting {
		wg.Go(func() { do(i) })
	}
	// Every waiting job must be queued before the slot frees up.
	for deadline := time.Now().Add(10 * time.Second); ; {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs queued", n, waiting)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	sizes := make([]int, len(batches))
	for i, jobs := range batches {
		sizes[i] = len(jobs)
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != maxJobs || sizes[2] != 3 {
		t.Fatalf("batch sizes %v; want [1 %d 3]", sizes, maxJobs)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running != 0 || len(b.queue) != 0 || len(b.waits) != 0 {
		t.Fatalf("after the last batch: running %d, queued %d, waiting %d", b.running, len(b.queue), len(b.waits))
	}
}

// TestBatcherSlots: with n slots, n jobs run at once, each alone.
func TestBatcherSlots(t *testing.T) {
	const slots = 3
	var (
		mu      sync.Mutex
		running int
		peak    int
		sizes   []int
	)
	all := make(chan struct{})
	b := New("test", slots, 64, time.Second, func(_ context.Context, jobs []struct{}) {
		mu.Lock()
		running++
		peak = max(peak, running)
		sizes = append(sizes, len(jobs))
		if running == slots {
			close(all)
		}
		mu.Unlock()
		<-all // every slot busy at once, or the test times out
		mu.Lock()
		running--
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for range slots {
		wg.Go(func() { b.Do(context.Background(), struct{}{}) })
	}
	wg.Wait()
	if peak != slots || len(sizes) != slots {
		t.Fatalf("peak %d batches at once, %d batches; want %d and %d", peak, len(sizes), slots, slots)
	}
}

// TestBatcherIdle runs a job arriving at an idle batcher at once, on the
// caller's goroutine, alone; a canceled caller does not cancel its batch.
func TestBatcherIdle(t *testing.T) {
	var got []string
	ctxErrs := map[string]error{}
	b := New("test", 2, 4, time.Second, func(ctx context.Context, jobs []string) {
		got = append(got, jobs...)
		for _, j := range jobs {
			ctxErrs[j] = ctx.Err()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Do(ctx, "a")
	b.Do(context.Background(), "b")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("ran %v, want [a b] in order", got)
	}
	if err := ctxErrs["a"]; err != nil {
		t.Errorf("batch context: %v, want the caller's cancellation left out", err)
	}
}

// TestBatcherTracing: a lone job runs in its caller's trace; a batch of
// several runs under a new root span linked to every caller's span (not
// under the trace of whichever caller happened to lead it).
func TestBatcherTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	tracer := tp.Tracer("test")

	var (
		mu      sync.Mutex
		traceOf = map[string]trace.TraceID{} // job → the trace its batch ran in
	)
	release := make(chan struct{})
	started := make(chan struct{})
	b := New("test batch", 1, 8, time.Second, func(ctx context.Context, jobs []string) {
		if jobs[0] == "lone" {
			close(started)
			<-release
		}
		mu.Lock()
		defer mu.Unlock()
		for _, j := range jobs {
			traceOf[j] = trace.SpanContextFromContext(ctx).TraceID()
		}
	})
	callers := map[string]trace.SpanContext{}
	do := func(name string) {
		ctx, span := tracer.Start(context.Background(), name)
		defer span.End()
		mu.Lock()
		callers[name] = span.SpanContext()
		mu.Unlock()
		b.Do(ctx, name)
	}
	var wg sync.WaitGroup
	wg.Go(func() { do("lone") })
	<-started
	for _, name := range []string{"a", "b", "c"} {
		wg.Go(func() { do(name) })
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs queued, want 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	if got := traceOf["lone"]; got != callers["lone"].TraceID() {
		t.Errorf("the lone job ran in trace %s, want its caller's %s", got, callers["lone"].TraceID())
	}
	var batch sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "test batch" {
			batch = s
		}
	}
	if batch == nil {
		t.Fatal("no span for the batch of three")
	}
	linked := map[trace.SpanID]bool{}
	for _, l := range batch.Links() {
		linked[l.SpanContext.SpanID()] = true
	}
	for _, name := range []string{"a", "b", "c"} {
		if traceOf[name] != batch.SpanContext().TraceID() {
			t.Errorf("job %s ran in trace %s, want the batch's %s", name, traceOf[name], batch.SpanContext().TraceID())
		}
		if traceOf[name] == callers[name].TraceID() || traceOf[name] == callers["lone"].TraceID() {
			t.Errorf("job %s ran in a caller's trace", name)
		}
		if !linked[callers[name].SpanID()] {
			t.Errorf("the batch span has no link to %s's span", name)
		}
	}
	if batch.Parent().IsValid() {
		t.Errorf("the batch span has a parent %v, want a new root", batch.Parent())
	}
}
