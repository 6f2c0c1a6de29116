package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/testenv"
)

// redisServer is a throwaway redis-server on a port of its own, which a test
// may stop, freeze and start again.
type redisServer struct {
	t    *testing.T
	port string
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(testenv.RequireVar) == "1" {
			t.Fatalf("redis-server is not on PATH but %s=1", testenv.RequireVar)
		}
		t.Skip("redis-server is not on PATH")
	}
	s := &redisServer{t: t, port: strconv.Itoa(freePort(t))}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + s.port + "/0" }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", s.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.port, 100*ms)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %s did not start: %v", s.port, err)
		}
		time.Sleep(20 * ms)
	}
}

func (s *redisServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server must run to die
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *redisServer) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// load calls Allow on one key every couple of milliseconds until stopped,
// recording errors, the slowest call and the admitted count.
type load struct {
	admitted, calls, errors atomic.Int64
	slowest                 atomic.Int64 // ns
	stop                    chan struct{}
	once                    sync.Once
	wg                      sync.WaitGroup
}

func startLoad(f *ratelimit.Fallback, lim ratelimit.Limit) *load {
	ld := &load{stop: make(chan struct{})}
	ld.wg.Go(func() {
		tick := time.NewTicker(2 * ms)
		defer tick.Stop()
		for {
			select {
			case <-ld.stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			d, err := f.Allow(context.Background(), "k", lim)
			if took := int64(time.Since(start)); took > ld.slowest.Load() {
				ld.slowest.Store(took)
			}
			ld.calls.Add(1)
			if err != nil {
				ld.errors.Add(1)
			} else if d.Allowed {
				ld.admitted.Add(1)
			}
		}
	})
	return ld
}

func (ld *load) halt() { ld.once.Do(func() { close(ld.stop) }); ld.wg.Wait() }

// fallbackOn returns a Fallback from srv to local limits, probing every
// probe, closed when t ends, and its Redis client.
func fallbackOn(t *testing.T, srv *redisServer, probe time.Duration) (*ratelimit.Fallback, *redis.Client) {
	client := newClient(t, srv.url())
	f := ratelimit.NewFallback(
		// A timeout well above a loaded CI box's hiccups: the tests are
		// about switching backends, not about how fast.
		ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: testPrefix(t, srv.url()), Timeout: 300 * ms}),
		ratelimit.NewLocal(ratelimit.LocalOptions{}),
		ratelimit.FallbackOptions{ProbeInterval: probe, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { _ = f.Close() })
	return f, client
}

// TestFallbackRedisDown runs steady load through a Fallback while its Redis
// freezes, thaws, dies and comes back on the same port: no call fails or
// blocks, local limits apply while Redis is away, and decisions return to
// Redis once it answers.
func TestFallbackRedisDown(t *testing.T) {
	srv := startRedisServer(t)
	f, _ := fallbackOn(t, srv, 200*ms)
	lim := ratelimit.Limit{Rate: 50, Burst: 5}
	fallbacks := testenv.Metric(t, "bam_ratelimit_fallbacks_total")

	ld := startLoad(f, lim)
	defer ld.halt()
	time.Sleep(300 * ms)
	if f.Backend() != "redis" || testenv.Metric(t, "bam_ratelimit_backend", "backend", "redis") != 1 {
		t.Fatalf("backend %s, want redis while it answers", f.Backend())
	}

	// Frozen Redis: calls time out and fall back.
	srv.signal(syscall.SIGSTOP)
	took := testenv.WaitFor(t, 2*time.Second, "fallback on a frozen redis", func() bool { return f.Backend() == "local" })
	t.Logf("frozen: on local limits after %v", took)
	srv.signal(syscall.SIGCONT)
	took = testenv.WaitFor(t, 3*time.Second, "recovery after thaw", func() bool { return f.Backend() == "redis" })
	t.Logf("thawed: back on redis after %v", took)

	// Dead Redis: connection refused, fall back at once.
	srv.kill()
	took = testenv.WaitFor(t, time.Second, "fallback on a dead redis", func() bool { return f.Backend() == "local" })
	t.Logf("killed: on local limits after %v", took)
	if got := testenv.Metric(t, "bam_ratelimit_backend", "backend", "local"); got != 1 {
		t.Errorf("bam_ratelimit_backend{backend=local} = %v, want 1", got)
	}
	// Local limits apply: over one second, a fresh local bucket admits its
	// burst plus one second of rate.
	before, start := ld.admitted.Load(), time.Now()
	time.Sleep(time.Second)
	admitted, secs := ld.admitted.Load()-before, time.Since(start).Seconds()
	if want := float64(lim.Burst) + lim.Rate*secs; float64(admitted) < 0.5*want || float64(admitted) > 1.2*want {
		t.Errorf("degraded: admitted %d in %.2f s, want about %.0f (local limit)", admitted, secs, want)
	}

	srv.start()
	took = testenv.WaitFor(t, 3*time.Second, "recovery after restart", func() bool { return f.Backend() == "redis" })
	t.Logf("restarted: back on redis after %v", took)
	time.Sleep(200 * ms)
	ld.halt()

	if got := testenv.Metric(t, "bam_ratelimit_backend", "backend", "redis"); got != 1 {
		t.Errorf("bam_ratelimit_backend{backend=redis} = %v after recovery, want 1", got)
	}
	if got := testenv.Metric(t, "bam_ratelimit_fallbacks_total") - fallbacks; got < 2 {
		t.Errorf("bam_ratelimit_fallbacks_total grew by %v, want at least 2 (freeze, kill)", got)
	}
	if n := ld.errors.Load(); n != 0 {
		t.Errorf("%d of %d calls returned an error", n, ld.calls.Load())
	}
	slowest := time.Duration(ld.slowest.Load())
	t.Logf("%d calls, slowest %v", ld.calls.Load(), slowest)
	if slowest > 2*time.Second { // the freeze lasts longer: callers were not held for it
		t.Errorf("slowest call took %v; a failing Redis must not block callers", slowest)
	}
}

// TestFallbackStaysOffAFullRedis: a Redis that answers PING but refuses
// the script's writes (maxmemory reached, noeviction) is not switched back
// to until it takes decisions again: no flapping between the backends.
func TestFallbackStaysOffAFullRedis(t *testing.T) {
	srv := startRedisServer(t)
	f, client := fallbackOn(t, srv, 100*ms)
	ld := startLoad(f, ratelimit.Limit{Rate: 50, Burst: 5})
	defer ld.halt()
	testenv.WaitFor(t, 2*time.Second, "decisions on redis", func() bool { return f.Backend() == "redis" })

	ctx := t.Context()
	if err := client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 3*time.Second, "fallback from a full redis", func() bool { return f.Backend() == "local" })
	fallbacks := testenv.Metric(t, "bam_ratelimit_fallbacks_total")
	time.Sleep(time.Second) // ten probes: PING answers all of them
	if f.Backend() != "local" || testenv.Metric(t, "bam_ratelimit_fallbacks_total") != fallbacks {
		t.Fatalf("backend %s, %v more fallbacks: switched back to a redis that refuses every decision",
			f.Backend(), testenv.Metric(t, "bam_ratelimit_fallbacks_total")-fallbacks)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 3*time.Second, "recovery once redis has room", func() bool { return f.Backend() == "redis" })
	if n := ld.errors.Load(); n != 0 {
		t.Errorf("%d of %d calls returned an error", n, ld.calls.Load())
	}
}

// TestFallbackRidesOutStalls: a Redis that stalls for less than Grace
// (a busy machine) costs only the decisions made meanwhile, taken locally
// and at once; the limiter stays on Redis, logs nothing and counts no
// fallback. One that stays away longer is fallen back from.
func TestFallbackRidesOutStalls(t *testing.T) {
	srv := startRedisServer(t)
	f := ratelimit.NewFallback(
		ratelimit.NewRedis(newClient(t, srv.url()), ratelimit.RedisOptions{Prefix: testPrefix(t, srv.url()), Timeout: 20 * ms}),
		ratelimit.NewLocal(ratelimit.LocalOptions{}),
		ratelimit.FallbackOptions{Grace: 600 * ms, ProbeInterval: 100 * ms, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer f.Close()
	lim := ratelimit.Limit{Rate: 1000, Burst: 100}
	fallbacks, redisErrors := testenv.Metric(t, "bam_ratelimit_fallbacks_total"), testenv.Metric(t, "bam_ratelimit_redis_errors_total")
	ld := startLoad(f, lim)
	defer ld.halt()
	time.Sleep(100 * ms)

	srv.signal(syscall.SIGSTOP) // a stall well within Grace
	time.Sleep(150 * ms)
	srv.signal(syscall.SIGCONT)
	time.Sleep(200 * ms)
	if f.Backend() != "redis" || testenv.Metric(t, "bam_ratelimit_fallbacks_total") != fallbacks {
		t.Fatalf("a 150ms stall: backend %s, fallbacks +%v; want redis, none", f.Backend(),
			testenv.Metric(t, "bam_ratelimit_fallbacks_total")-fallbacks)
	}
	if n := testenv.Metric(t, "bam_ratelimit_redis_errors_total") - redisErrors; n < 1 {
		t.Errorf("bam_ratelimit_redis_errors_total grew by %v during the stall, want at least 1", n)
	}

	srv.signal(syscall.SIGSTOP) // away for longer than Grace
	took := testenv.WaitFor(t, 3*time.Second, "fallback after the grace period", func() bool { return f.Backend() == "local" })
	time.Sleep(time.Second) // a caller held by the freeze would now have waited over 1.6 s
	srv.signal(syscall.SIGCONT)
	t.Logf("stopped: on local limits after %v (grace 600ms)", took)
	if took < 500*ms {
		t.Errorf("fell back after %v, before the grace period", took)
	}
	testenv.WaitFor(t, 3*time.Second, "recovery", func() bool { return f.Backend() == "redis" })
	ld.halt()
	if n := ld.errors.Load(); n != 0 {
		t.Errorf("%d of %d calls returned an error", n, ld.calls.Load())
	}
	if slowest := time.Duration(ld.slowest.Load()); slowest > time.Second {
		t.Errorf("slowest call took %v; the timeout is 20ms", slowest)
	}
}

func TestFallbackUnreachableRedis(t *testing.T) {
	port := strconv.Itoa(freePort(t)) // nothing listens there
	client := newClient(t, "redis://127.0.0.1:"+port+"/0")
	f := ratelimit.NewFallback(
		ratelimit.NewRedis(client, ratelimit.RedisOptions{}),
		ratelimit.NewLocal(ratelimit.LocalOptions{}),
		ratelimit.FallbackOptions{LocalShare: 0.25, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer f.Close()
	lim := ratelimit.Limit{Rate: 4, Burst: 10} // locally 1/s: no refill between the calls on a slow machine
	for i, wantRemaining := range []int{2, 1, 0} {
		d, err := f.Allow(context.Background(), "k", lim)
		if err != nil || !d.Allowed || d.Limit != 3 || d.Remaining != wantRemaining {
			t.Fatalf("request %d: %+v, %v; want allowed by the local quarter (burst 3), %d left", i, d, err, wantRemaining)
		}
	}
	if d, err := f.Allow(context.Background(), "k", lim); err != nil || d.Allowed {
		t.Fatalf("4th request: %+v, %v; want denied", d, err)
	}
	// Each decision was local, but the limiter still asks Redis first until
	// Redis has failed for Grace (250ms by default).
	if f.Backend() != "redis" {
		t.Fatalf("backend %s within the grace period, want redis", f.Backend())
	}
	time.Sleep(300 * ms)
	if _, err := f.Allow(context.Background(), "k", lim); err != nil || f.Backend() != "local" {
		t.Fatalf("after the grace period: %v, backend %s; want local", err, f.Backend())
	}
	// Invalid limits are still reported, not hidden by the fallback.
	if _, err := f.Allow(context.Background(), "k", ratelimit.Limit{}); err == nil {
		t.Fatal("zero Limit: no error")
	}
}

func TestFallbackWithoutRedis(t *testing.T) {
	f := ratelimit.NewFallback(nil, ratelimit.NewLocal(ratelimit.LocalOptions{}), ratelimit.FallbackOptions{})
	defer f.Close()
	if d, err := f.Allow(context.Background(), "k", ratelimit.Limit{Rate: 1, Burst: 2}); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("%+v, %v", d, err)
	}
	if f.Backend() != "local" {
		t.Fatalf("backend %s, want local", f.Backend())
	}
}
