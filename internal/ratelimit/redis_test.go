package ratelimit_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/rawsock"
	"github.com/bamhq/bam/internal/testenv"
)

// testPrefix returns a key prefix of its own for one test, so that tests
// sharing a Redis never see each other's buckets, and deletes its keys at
// the end.
func testPrefix(t testing.TB, url string) string {
	t.Helper()
	prefix := "bam:rl:test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		c := newClient(t, url)
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// newClient opens a client of its own (one per simulated replica).
func newClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	c, err := ratelimit.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRedisRawSockets: the client's TCP connections read and write with
// raw system calls (internal/rawsock) on Linux.
func TestRedisRawSockets(t *testing.T) {
	url := testenv.RedisURL(t)
	c := newClient(t, url)
	opt := c.Options()
	nc, err := opt.Dialer(t.Context(), opt.Network, opt.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if opt.Network == "tcp" && opt.TLSConfig == nil && rawsock.Supported && !rawsock.Wrapped(nc) {
		t.Errorf("connection is a %T, not rawsock's", nc)
	}
	if err := c.Set(t.Context(), "bam:rl:test:raw:"+rand.Text(), strings.Repeat("v", 1<<20), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestRedisDecisions(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	prefix := testPrefix(t, url)
	c := newClient(t, url)
	// A generous timeout: this checks decisions, not latency, and must not flake on a loaded CI box.
	l := ratelimit.NewRedis(c, ratelimit.RedisOptions{Prefix: prefix, Timeout: 2 * time.Second})
	ctx := context.Background()
	lim := ratelimit.Limit{Rate: 1, Burst: 3} // slow: the test's own latency does not matter

	for i, wantRemaining := range []int{2, 1, 0} {
		d, err := l.Allow(ctx, "k", lim)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Limit != 3 || d.Remaining != wantRemaining {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i, d, wantRemaining)
		}
		if want := time.Duration(i+1) * time.Second; d.Reset > want || d.Reset < want-200*ms {
			t.Errorf("request %d: Reset = %v, want about %v", i, d.Reset, want)
		}
	}
	d, err := l.Allow(ctx, "k", lim)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 700*ms || d.RetryAfter > time.Second {
		t.Fatalf("4th request: %+v, want denied, retry in about 1 s", d)
	}
	// The key expires when the bucket would be full again.
	ttl, err := c.PTTL(ctx, prefix+"k").Result()
	if err != nil || ttl <= 2*time.Second || ttl > 3*time.Second {
		t.Errorf("PTTL = %v, %v; want about 3 s", ttl, err)
	}
	// Another key is another bucket; n = 0 only reports.
	if d, err := l.AllowN(ctx, "other", ratelimit.Limit{Rate: 1, Burst: 10}, 4); err != nil || !d.Allowed || d.Remaining != 6 {
		t.Errorf("AllowN(4) = %+v, %v; want allowed, 6 remaining", d, err)
	}
	if d, err := l.AllowN(ctx, "other", ratelimit.Limit{Rate: 1, Burst: 10}, 0); err != nil || !d.Allowed || d.Remaining != 6 {
		t.Errorf("AllowN(0) = %+v, %v; want allowed, 6 remaining", d, err)
	}
	if _, err := l.AllowN(ctx, "other", lim, 4); errs.KindOf(err) != errs.Invalid {
		t.Errorf("n > burst: err = %v, want Invalid", err)
	}
	// The script survives a flushed script cache (EVALSHA falls back to EVAL).
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(ctx, "after-flush", lim); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
}

// TestRedisSharedAcrossReplicas: two limiters with their own clients (two
// gateway replicas) hammer one key at many times its rate; together they
// admit the rate, within 10%.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testPrefix(t, url)
	const (
		rate     = 100.0
		burst    = 10
		duration = 2500 * ms
		workers  = 4      // per replica
		pace     = 5 * ms // per worker: 2 replicas × 4 × 200/s = 1600 req/s offered
	)
	lim := ratelimit.Limit{Rate: rate, Burst: burst}
	replicas := []*ratelimit.Redis{
		ratelimit.NewRedis(newClient(t, url), ratelimit.RedisOptions{Prefix: prefix, Timeout: time.Second}),
		ratelimit.NewRedis(newClient(t, url), ratelimit.RedisOptions{Prefix: prefix, Timeout: time.Second}),
	}
	var admitted, offered, failed atomic.Int64
	perReplica := make([]atomic.Int64, len(replicas))
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for i, r := range replicas {
		for range workers {
			wg.Go(func() {
				tick := time.NewTicker(pace)
				defer tick.Stop()
				for time.Now().Before(deadline) {
					d, err := r.Allow(context.Background(), "shared", lim)
					offered.Add(1)
					switch {
					case err != nil:
						failed.Add(1)
					case d.Allowed:
						admitted.Add(1)
						perReplica[i].Add(1)
					}
					<-tick.C
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), offered.Load())
	}
	offeredRate := float64(offered.Load()) / elapsed
	if offeredRate < 2*rate { // the limit must bind; more is better but a loaded machine offers less
		t.Fatalf("offered only %.0f req/s; the test needs well above %v/s", offeredRate, rate)
	}
	got := float64(admitted.Load()-burst) / elapsed
	t.Logf("offered %.0f req/s, admitted %d (%d + %d) in %.2f s: %.1f/s against a limit of %v/s",
		offeredRate, admitted.Load(), perReplica[0].Load(), perReplica[1].Load(), elapsed, got, rate)
	if got < 0.9*rate || got > 1.1*rate {
		t.Errorf("combined admitted rate %.1f/s, want %v/s ± 10%%", got, rate)
	}
	if perReplica[0].Load() == 0 || perReplica[1].Load() == 0 {
		t.Error("one replica admitted nothing: the test did not exercise sharing")
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	url := testenv.RedisURL(b)
	prefix := testPrefix(b, url)
	l := ratelimit.NewRedis(newClient(b, url), ratelimit.RedisOptions{Prefix: prefix, Timeout: time.Second})
	lim := ratelimit.Limit{Rate: 1e6, Burst: 1000}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Allow(ctx, "k", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Allow(ctx, "k", lim); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestRedisLimitRaised: the script treats a bucket drained under a stricter
// limit as the Go step does (TestGCRALimitRaised): one token at once, then
// the raised rate.
func TestRedisLimitRaised(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	l := ratelimit.NewRedis(newClient(t, url), ratelimit.RedisOptions{Prefix: testPrefix(t, url), Timeout: 2 * time.Second})
	ctx := context.Background()
	strict, loose := ratelimit.Limit{Rate: 1, Burst: 5}, ratelimit.Limit{Rate: 100, Burst: 100}
	for range 5 {
		if d, err := l.Allow(ctx, "k", strict); err != nil || !d.Allowed {
			t.Fatalf("strict limit: %+v, %v", d, err)
		}
	}
	if d, err := l.Allow(ctx, "k", loose); err != nil || !d.Allowed || d.Remaining > 1 || d.Reset > time.Second {
		t.Fatalf("raised limit: %+v, %v; want the one token left, full within 1s", d, err)
	}
	time.Sleep(20 * ms)
	if d, err := l.Allow(ctx, "k", loose); err != nil || !d.Allowed {
		t.Fatalf("raised limit, 20ms later: %+v, %v; want allowed", d, err)
	}
}
