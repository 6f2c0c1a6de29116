package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/ratelimit"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// step is one call in a GCRA scenario: at (since the start), take n tokens,
// and expect want.
type step struct {
	at   time.Duration
	n    int
	want ratelimit.Decision
}

func allowed(limit, remaining int, reset time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: limit, Remaining: remaining, Reset: reset}
}

func denied(limit, remaining int, reset, retry time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Limit: limit, Remaining: remaining, Reset: reset, RetryAfter: retry}
}

const ms = time.Millisecond

func TestGCRA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit ratelimit.Limit
		steps []step
	}{
		{"burst then steady", ratelimit.Limit{Rate: 1, Burst: 3}, []step{
			{0, 1, allowed(3, 2, 1000*ms)},
			{0, 1, allowed(3, 1, 2000*ms)},
			{0, 1, allowed(3, 0, 3000*ms)},
			{0, 1, denied(3, 0, 3000*ms, 1000*ms)},
			{500 * ms, 1, denied(3, 0, 2500*ms, 500*ms)},
			{1000 * ms, 1, allowed(3, 0, 3000*ms)},
			{3000 * ms, 1, allowed(3, 1, 2000*ms)},
			{10 * time.Second, 1, allowed(3, 2, 1000*ms)}, // idle long enough: full again
		}},
		{"burst of one", ratelimit.Limit{Rate: 10, Burst: 1}, []step{
			{0, 1, allowed(1, 0, 100*ms)},
			{50 * ms, 1, denied(1, 0, 50*ms, 50*ms)},
			{100 * ms, 1, allowed(1, 0, 100*ms)},
			{250 * ms, 1, allowed(1, 0, 100*ms)},
		}},
		{"fractional rate", ratelimit.Limit{Rate: 0.5, Burst: 2}, []step{
			{0, 1, allowed(2, 1, 2000*ms)},
			{0, 1, allowed(2, 0, 4000*ms)},
			{1000 * ms, 1, denied(2, 0, 3000*ms, 1000*ms)},
			{2000 * ms, 1, allowed(2, 0, 4000*ms)},
		}},
		{"AllowN", ratelimit.Limit{Rate: 1, Burst: 10}, []step{
			{0, 4, allowed(10, 6, 4000*ms)},
			{0, 7, denied(10, 6, 4000*ms, 1000*ms)},
			{0, 0, allowed(10, 6, 4000*ms)}, // n = 0 only reports
			{0, 6, allowed(10, 0, 10000*ms)},
			{2000 * ms, 3, denied(10, 2, 8000*ms, 1000*ms)},
			{2000 * ms, 2, allowed(10, 0, 10000*ms)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			start := clock.Now()
			l := ratelimit.NewLocal(ratelimit.LocalOptions{Now: clock.Now})
			for i, s := range tt.steps {
				clock.Advance(start.Add(s.at).Sub(clock.Now()))
				got, err := l.AllowN(context.Background(), "k", tt.limit, s.n)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != s.want {
					t.Errorf("step %d (at %v, n=%d):\n got %+v\nwant %+v", i, s.at, s.n, got, s.want)
				}
			}
		})
	}
}

// TestGCRASteadyRate offers a request every millisecond for ten simulated
// seconds: exactly the burst plus rate × duration pass.
func TestGCRASteadyRate(t *testing.T) {
	t.Parallel()
	for _, lim := range []ratelimit.Limit{{Rate: 10, Burst: 5}, {Rate: 100, Burst: 1}, {Rate: 3, Burst: 20}} {
		clock := newFakeClock()
		l := ratelimit.NewLocal(ratelimit.LocalOptions{Now: clock.Now})
		passed := 0
		for i := 0; i <= 10000; i++ {
			d, err := l.Allow(context.Background(), "k", lim)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				passed++
			}
			clock.Advance(ms)
		}
		if want := lim.Burst + int(lim.Rate*10); passed != want {
			t.Errorf("%+v: %d passed in 10 s, want %d", lim, passed, want)
		}
	}
}

func TestInvalidLimit(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLocal(ratelimit.LocalOptions{})
	for _, tt := range []struct {
		limit ratelimit.Limit
		n     int
	}{
		{ratelimit.Limit{Rate: 0, Burst: 1}, 1},
		{ratelimit.Limit{Rate: -1, Burst: 1}, 1},
		{ratelimit.Limit{Rate: 1, Burst: 0}, 1},
		{ratelimit.Limit{Rate: 1, Burst: 5}, 6},
		{ratelimit.Limit{Rate: 1, Burst: 5}, -1},
		{ratelimit.Limit{Rate: 1e-12, Burst: 1000}, 1},
	} {
		_, err := l.AllowN(context.Background(), "k", tt.limit, tt.n)
		if errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "ratelimit.invalid_limit" {
			t.Errorf("%+v n=%d: err = %v, want invalid_limit", tt.limit, tt.n, err)
		}
	}
}

// TestGCRALimitRaised: a bucket drained under a strict limit has one token
// under a raised one (a reload) and refills at the new rate, instead of
// waiting out the old limit's refill time. A lowered limit counts the time already owed: a
// second of the loose limit's debt is one token of the strict one.
func TestGCRALimitRaised(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := ratelimit.NewLocal(ratelimit.LocalOptions{Now: clock.Now})
	strict, loose := ratelimit.Limit{Rate: 1, Burst: 5}, ratelimit.Limit{Rate: 100, Burst: 100}
	ctx := context.Background()
	for range 5 {
		if d, _ := l.Allow(ctx, "k", strict); !d.Allowed {
			t.Fatal("strict limit: the burst did not pass")
		}
	}
	if d, _ := l.Allow(ctx, "k", loose); !d.Allowed || d.Remaining != 0 || d.Reset != time.Second {
		t.Fatalf("raised limit, at once: %+v; want the one token left, full in 1s", d)
	}
	if d, _ := l.Allow(ctx, "k", loose); d.Allowed || d.RetryAfter != 10*ms {
		t.Fatalf("raised limit, next: %+v; want denied for one new interval (10ms)", d)
	}
	clock.Advance(10 * ms)
	if d, _ := l.Allow(ctx, "k", loose); !d.Allowed {
		t.Fatalf("raised limit, 10ms later: %+v; want allowed", d)
	}
	clock.Advance(2 * time.Second) // full under the loose limit
	for range 100 {
		_, _ = l.Allow(ctx, "k", loose)
	}
	if d, _ := l.Allow(ctx, "k", strict); !d.Allowed || d.Remaining != 3 || d.Reset != 2*time.Second {
		t.Fatalf("lowered limit: %+v; want allowed, 3 of 5 left, full in 2s", d)
	}
}
