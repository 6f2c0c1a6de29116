package upstream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/testenv"
)

// replica is a real HTTP server on 127.0.0.1 that counts the requests it
// serves (health checks apart).
type replica struct {
	srv  *httptest.Server
	url  string
	hits atomic.Int64
}

func newReplica(t testing.TB, h http.HandlerFunc) *replica {
	t.Helper()
	r := &replica{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" {
			return
		}
		r.hits.Add(1)
		h(w, req)
	}))
	r.url = r.srv.URL
	t.Cleanup(r.stop)
	return r
}

// stop kills the replica the hard way: connections cut, listener closed.
func (r *replica) stop() {
	r.srv.CloseClientConnections()
	r.srv.Close()
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) }

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// refusedURL is an address nothing listens on.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

func newPool(t testing.TB, o upstream.Options) *upstream.Pool {
	t.Helper()
	if o.Name == "" {
		o.Name = strings.ReplaceAll(t.Name(), "/", "_")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	p, err := upstream.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func urls(rs ...*replica) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.url)
	}
	return s
}

// get sends a GET through rt and reads the whole answer.
func get(ctx context.Context, rt http.RoundTripper) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc/thing", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, target := range []string{"127.0.0.1:80", "ftp://x", "http://x/path", "http://u:p@x", "http://x?q=1", "http://"} {
		_, err := upstream.New(upstream.Options{Name: "bad", Targets: []string{target}, HealthInterval: -1})
		if err == nil {
			t.Errorf("target %q accepted", target)
		}
	}
	if _, err := upstream.New(upstream.Options{Targets: []string{"http://x"}}); err == nil {
		t.Error("a pool without a name was accepted")
	}
}

func TestBalanceSpreadsEvenlyWhenIdle(t *testing.T) {
	rs := []*replica{newReplica(t, ok), newReplica(t, ok), newReplica(t, ok)}
	p := newPool(t, upstream.Options{Targets: urls(rs...), HealthInterval: -1})
	const n = 300
	for range n {
		if code, err := get(t.Context(), p); err != nil || code != 200 {
			t.Fatalf("GET = %d, %v", code, err)
		}
	}
	for i, r := range rs {
		// Sequential requests tie at 0 in flight: round-robin decides.
		if h := r.hits.Load(); h < n/3-10 || h > n/3+10 {
			t.Errorf("replica %d served %d of %d requests; want about %d", i, h, n, n/3)
		}
	}
}

func TestBalancePrefersLessBusyReplica(t *testing.T) {
	slow := newReplica(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		ok(w, r)
	})
	fast := newReplica(t, ok)
	p := newPool(t, upstream.Options{Targets: urls(slow, fast), HealthInterval: -1})
	load(t, p, 8, 700*time.Millisecond, nil)
	s, f := slow.hits.Load(), fast.hits.Load()
	t.Logf("slow replica served %d, fast %d", s, f)
	if f < 10*s {
		t.Errorf("fast replica served %d, slow %d: want the fast one to take over 10x more", f, s)
	}
}

// loadResult is what load saw.
type loadResult struct {
	mu        sync.Mutex
	ok, bad   int
	errs      []error
	latencies []time.Duration
}

// load runs clients concurrent GET loops through rt for d; during, if set,
// runs once at d/3.
func load(t *testing.T, rt http.RoundTripper, clients int, d time.Duration, during func()) *loadResult {
	t.Helper()
	res := &loadResult{}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				code, err := get(context.Background(), rt)
				el := time.Since(start)
				res.mu.Lock()
				switch {
				case err != nil:
					res.bad++
					if len(res.errs) < 5 {
						res.errs = append(res.errs, err)
					}
				case code != 200:
					res.bad++
					if len(res.errs) < 5 {
						res.errs = append(res.errs, errors.New(http.StatusText(code)))
					}
				default:
					res.ok++
				}
				res.latencies = append(res.latencies, el)
				res.mu.Unlock()
			}
		})
	}
	if during != nil {
		time.Sleep(d / 3)
		during()
	}
	wg.Wait()
	return res
}

func TestSetTargetsLive(t *testing.T) {
	a, b := newReplica(t, ok), newReplica(t, ok)
	p := newPool(t, upstream.Options{Targets: []string{a.url}, HealthInterval: -1})
	step := func(want ...*replica) {
		t.Helper()
		before := [2]int64{a.hits.Load(), b.hits.Load()}
		for range 20 {
			if code, err := get(t.Context(), p); err != nil || code != 200 {
				t.Fatalf("GET = %d, %v", code, err)
			}
		}
		got := map[*replica]bool{a: a.hits.Load() > before[0], b: b.hits.Load() > before[1]}
		for r, served := range got {
			if served != (r == want[0] || len(want) > 1 && r == want[1]) {
				t.Errorf("replica %s served=%v; want served by %v", r.url, served, urls(want...))
			}
		}
	}
	step(a)
	if err := p.SetTargets([]string{a.url, b.url, a.url}); err != nil {
		t.Fatal(err)
	}
	step(a, b)
	if n := len(p.Stats().Targets); n != 2 {
		t.Errorf("%d targets after adding one (and a duplicate); want 2", n)
	}
	if err := p.SetTargets([]string{b.url, "not a url"}); err == nil {
		t.Error("SetTargets accepted an invalid URL")
	}
	step(a, b) // unchanged by the rejected call

	// Removing a replica under load fails no request.
	res := load(t, p, 8, 600*time.Millisecond, func() {
		if err := p.SetTargets([]string{b.url}); err != nil {
			t.Error(err)
		}
	})
	if res.bad > 0 {
		t.Errorf("%d of %d requests failed while a replica was removed: %v", res.bad, res.ok+res.bad, res.errs)
	}
	step(b)
}

func TestHealthChecksTakeReplicaOutAndBack(t *testing.T) {
	// Each replica serves its API on one server and /readyz on another, as
	// bam services do on their ops port.
	a, b := newReplica(t, ok), newReplica(t, ok)
	var aReady atomic.Bool
	aReady.Store(true)
	ops := map[string]*httptest.Server{}
	for _, r := range []*replica{a, b} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != "/readyz" || (r == a && !aReady.Load()) {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(srv.Close)
		ops[r.url] = srv
	}
	p := newPool(t, upstream.Options{
		Targets:        urls(a, b),
		HealthInterval: 30 * time.Millisecond,
		HealthURL:      func(target string) string { return ops[target].URL + "/readyz" },
	})
	healthy := func(r *replica) bool {
		for _, ts := range p.Stats().Targets {
			if ts.URL == r.url {
				return ts.Healthy
			}
		}
		return false
	}
	aReady.Store(false)
	testenv.WaitFor(t, 2*time.Second, "replica a still healthy", func() bool { return !healthy(a) })
	before := a.hits.Load()
	for range 20 {
		if code, err := get(t.Context(), p); err != nil || code != 200 {
			t.Fatalf("GET = %d, %v", code, err)
		}
	}
	if a.hits.Load() != before {
		t.Errorf("the unhealthy replica served %d requests", a.hits.Load()-before)
	}
	aReady.Store(true)
	testenv.WaitFor(t, 2*time.Second, "replica a not healthy again", func() bool { return healthy(a) })
	before = a.hits.Load()
	for range 20 {
		_, _ = get(t.Context(), p)
	}
	if a.hits.Load() == before {
		t.Error("the recovered replica got no requests")
	}
}

func TestMetricsExported(t *testing.T) {
	r := newReplica(t, ok)
	p := newPool(t, upstream.Options{Name: "metrics_test", Targets: []string{r.url}, HealthInterval: -1})
	if _, err := get(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"bam_gateway_upstream_requests_total": false, "bam_gateway_upstream_replicas": false,
		"bam_gateway_upstream_breaker_state": false, "bam_gateway_upstream_in_flight": false,
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "upstream" && l.GetValue() == "metrics_test" {
					if _, ok := want[mf.GetName()]; ok {
						want[mf.GetName()] = true
					}
				}
			}
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("metric %s has no series for the pool", name)
		}
	}
}
