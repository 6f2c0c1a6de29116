package auth

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestBatcherGroupsWaitingJobs: a job that finds a free slot runs at once
// and alone; jobs arriving while every slot is busy wait and run together
// as the next batch (at most refreshBatchMax per batch), and every job is
// done exactly once.
func TestBatcherGroupsWaitingJobs(t *testing.T) {
	var (
		mu      sync.Mutex
		batches [][]*refreshJob
	)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b := &batcher{slots: 1}
	b.run = func(_ context.Context, jobs []*refreshJob) {
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, jobs)
		mu.Unlock()
		if first {
			started <- struct{}{}
			<-release // hold the only slot while the others queue
		}
		for _, j := range jobs {
			close(j.done) // panics if a job were run twice
		}
	}
	newJob := func() *refreshJob { return &refreshJob{done: make(chan struct{})} }
	ctx := context.Background()

	var wg sync.WaitGroup
	wg.Go(func() { b.do(ctx, newJob()) })
	<-started
	waiting := refreshBatchMax + 3
	for range waiting {
		wg.Go(func() { b.do(ctx, newJob()) })
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
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != refreshBatchMax || sizes[2] != 3 {
		t.Fatalf("batch sizes %v; want [1 %d 3]", sizes, refreshBatchMax)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running != 0 || len(b.queue) != 0 {
		t.Fatalf("after the last batch: running %d, queued %d", b.running, len(b.queue))
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
	b := &batcher{slots: slots}
	b.run = func(_ context.Context, jobs []*refreshJob) {
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
		for _, j := range jobs {
			close(j.done)
		}
	}
	var wg sync.WaitGroup
	for range slots {
		wg.Go(func() { b.do(context.Background(), &refreshJob{done: make(chan struct{})}) })
	}
	wg.Wait()
	if peak != slots || len(sizes) != slots {
		t.Fatalf("peak %d batches at once, %d batches; want %d and %d", peak, len(sizes), slots, slots)
	}
}

func TestPadSize(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 64: 64, 65: 128, maxPadSize: maxPadSize} {
		if got := padSize(n); got != want {
			t.Errorf("padSize(%d) = %d; want %d", n, got, want)
		}
	}
	if refreshBatchMax > maxPadSize {
		t.Fatalf("refreshBatchMax %d > maxPadSize %d", refreshBatchMax, maxPadSize)
	}
	if got := placeholders(2, 2, 3); got != "($2, $3, $4), ($5, $6, $7)" {
		t.Errorf("placeholders(2, 2, 3) = %q", got)
	}
}
