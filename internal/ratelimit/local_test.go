package ratelimit_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/ratelimit"
)

func TestLocalMemoryBound(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := ratelimit.NewLocal(ratelimit.LocalOptions{MaxKeys: 1000, Now: clock.Now})
	lim := ratelimit.Limit{Rate: 0.001, Burst: 1} // buckets refill in 1000 s: nothing idles
	for i := range 100_000 {
		if _, err := l.Allow(context.Background(), "ip:"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n > 1000 || n < 900 {
		t.Fatalf("Len = %d after 100k keys, want at most MaxKeys (1000) and close to it", n)
	}
	// The most recent keys are kept, so an active abuser stays limited.
	if d, _ := l.Allow(context.Background(), "ip:99999", lim); d.Allowed {
		t.Error("the most recent key was forgotten")
	}
}

func TestLocalEvictsIdleKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := ratelimit.NewLocal(ratelimit.LocalOptions{MaxKeys: 100_000, Now: clock.Now})
	lim := ratelimit.Limit{Rate: 1, Burst: 1} // full again 1 s after a request
	for i := range 5000 {
		_, _ = l.Allow(context.Background(), "old:"+strconv.Itoa(i), lim)
	}
	if n := l.Len(); n != 5000 {
		t.Fatalf("Len = %d, want 5000", n)
	}
	clock.Advance(2 * time.Second) // every old bucket is full: the keys are idle
	for range 2 {
		for i := range 3000 {
			_, _ = l.Allow(context.Background(), "new:"+strconv.Itoa(i), lim)
		}
	}
	if n := l.Len(); n > 3100 {
		t.Fatalf("Len = %d, want the idle keys dropped (about 3000 left)", n)
	}
}

// TestLocalConcurrent: many goroutines on one bucket with the clock stopped
// get exactly the burst between them.
func TestLocalConcurrent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := ratelimit.NewLocal(ratelimit.LocalOptions{Now: clock.Now})
	lim := ratelimit.Limit{Rate: 1, Burst: 50}
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if d, _ := l.Allow(context.Background(), "shared", lim); d.Allowed {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if passed.Load() != 50 {
		t.Fatalf("%d passed, want the burst (50)", passed.Load())
	}
}

func BenchmarkLocalAllow(b *testing.B) {
	// A deep bucket: no key goes idle (and is dropped) during the run, so
	// this measures the steady state, not re-inserting keys.
	lim := ratelimit.Limit{Rate: 1, Burst: 1 << 20}
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	b.Run("one-key", func(b *testing.B) {
		l := ratelimit.NewLocal(ratelimit.LocalOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = l.Allow(context.Background(), "k", lim)
			}
		})
	})
	b.Run("10k-keys", func(b *testing.B) {
		l := ratelimit.NewLocal(ratelimit.LocalOptions{})
		var seq atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := seq.Add(7919)
			for pb.Next() {
				i++
				_, _ = l.Allow(context.Background(), keys[i%uint64(len(keys))], lim)
			}
		})
	})
}
