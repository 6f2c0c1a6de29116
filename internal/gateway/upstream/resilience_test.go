package upstream_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

func TestDeadReplicaFailsNoGET(t *testing.T) {
	rs := []*replica{newReplica(t, ok), newReplica(t, ok), newReplica(t, ok)}
	p := newPool(t, upstream.Options{Targets: urls(rs...), HealthInterval: 200 * time.Millisecond})
	res := load(t, p, 20, 2*time.Second, rs[1].stop)
	t.Logf("%d requests, %d failed; the dead replica served %d before it died", res.ok+res.bad, res.bad, rs[1].hits.Load())
	if res.bad > 0 {
		t.Errorf("%d requests failed after a replica died: %v", res.bad, res.errs)
	}
	if res.ok < 100 {
		t.Errorf("only %d requests in 2s", res.ok)
	}
}

// hangup answers nothing: it cuts the connection after reading the request.
func hangup(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestRetriesByMethodAndFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bad       http.HandlerFunc // nil: connection refused
		method    string
		replay    bool // the body has GetBody
		retried   bool
		wantCodes []int // the codes the caller may see
	}{
		{"refused POST with GetBody", nil, http.MethodPost, true, true, []int{201}},
		{"refused POST streaming body", nil, http.MethodPost, false, true, []int{201}},
		{"503 GET", status(503), http.MethodGet, false, true, []int{201}},
		{"503 POST", status(503), http.MethodPost, true, false, []int{201, 503}},
		{"503 PUT", status(503), http.MethodPut, true, true, []int{201}},
		{"503 POST with Idempotency-Key", status(503), "POST+key", true, true, []int{201}},
		{"hangup GET", hangup, http.MethodGet, false, true, []int{201}},
		{"hangup POST", hangup, http.MethodPost, true, false, []int{201, 0}},
		{"500 GET is an answer", status(500), http.MethodGet, false, false, []int{201, 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := newReplica(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.WriteHeader(201)
				_, _ = w.Write(b)
			})
			badURL := refusedURL(t)
			var bad *replica
			if tc.bad != nil {
				bad = newReplica(t, tc.bad)
				badURL = bad.url
			}
			p := newPool(t, upstream.Options{
				Targets: []string{badURL, good.url}, HealthInterval: -1, EjectAfter: -1,
				Breaker: upstream.BreakerOptions{Failures: -1}, RetryBudget: upstream.RetryBudget{Ratio: 1},
			})
			const n = 10
			seen := map[int]int{}
			for i := range n {
				method, key := tc.method, false
				if method == "POST+key" {
					method, key = http.MethodPost, true
				}
				var body io.Reader = strings.NewReader("payload")
				if !tc.replay {
					body = io.NopCloser(body) // no GetBody
				}
				if method == http.MethodGet {
					body = nil
				}
				req, _ := http.NewRequestWithContext(t.Context(), method, "http://svc/x", body)
				if key {
					req.Header.Set("Idempotency-Key", "k")
				}
				resp, err := p.RoundTrip(req)
				code := 0
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
					if code == 201 && body != nil && string(b) != "payload" {
						t.Errorf("request %d: upstream got body %q", i, b)
					}
				} else if !errors.Is(err, upstream.ErrUnavailable) {
					t.Errorf("request %d: error %v does not wrap ErrUnavailable", i, err)
				}
				seen[code]++
			}
			for code := range seen {
				if !slices.Contains(tc.wantCodes, code) {
					t.Errorf("callers saw %d (%v); want only %v", code, seen, tc.wantCodes)
				}
			}
			if bad == nil {
				return
			}
			firstTries := bad.hits.Load()
			if firstTries == 0 {
				t.Fatal("the bad replica got no request")
			}
			total := firstTries + good.hits.Load()
			if tc.retried && total != n+firstTries {
				t.Errorf("%d attempts for %d requests, %d to the bad replica: want each of those retried", total, n, firstTries)
			}
			if !tc.retried && total != n {
				t.Errorf("%d attempts for %d requests: want no retry", total, n)
			}
		})
	}
}

// hang answers after d, or when the client goes away.
func hang(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		ok(w, r)
	}
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)*99/100]
}

func TestHangingReplicaIsEjected(t *testing.T) {
	const timeout = 150 * time.Millisecond
	rs := []*replica{newReplica(t, ok), newReplica(t, ok), newReplica(t, hang(5*time.Second))}
	p := newPool(t, upstream.Options{
		Targets: urls(rs...), Timeout: timeout, HealthInterval: 100 * time.Millisecond,
		EjectBase: 10 * time.Second, // stays out for the whole test
	})
	first := load(t, p, 10, 800*time.Millisecond, nil)
	hungBefore := rs[2].hits.Load()
	stats := p.Stats().Targets[2]
	second := load(t, p, 10, 800*time.Millisecond, nil)
	hungAfter := rs[2].hits.Load() - hungBefore

	t.Logf("while ejecting: %d requests, p99 %v, max %v; after: %d requests, p99 %v, max %v (timeout %v)",
		first.ok+first.bad, p99(first.latencies), slices.Max(first.latencies),
		second.ok+second.bad, p99(second.latencies), slices.Max(second.latencies), timeout)
	t.Logf("hanging replica: %d requests before ejection, %d after; stats %+v", hungBefore, hungAfter, stats)
	if stats.Ejected == 0 || !stats.Healthy {
		t.Errorf("hanging replica: ejected for %v, healthy %v; want ejected while its /readyz still passes", stats.Ejected, stats.Healthy)
	}
	if hungAfter != 0 {
		t.Errorf("the ejected replica still got %d requests", hungAfter)
	}
	if first.bad+second.bad > 0 {
		t.Errorf("%d GETs failed (timeouts are retried on another replica): %v %v", first.bad+second.bad, first.errs, second.errs)
	}
}

func TestAllDownFailsFast(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name string
		down func(t *testing.T) string
	}{
		{"refused", func(t *testing.T) string { return refusedURL(t) }},
		{"hanging", func(t *testing.T) string { return newReplica(t, hang(5*time.Second)).url }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, upstream.Options{
				Targets: []string{tc.down(t), tc.down(t)}, Timeout: timeout, HealthInterval: -1,
			})
			var opened int
			for i := range 20 {
				_, err := get(t.Context(), p)
				if err == nil {
					t.Fatal("a request to dead replicas succeeded")
				}
				if errors.Is(err, upstream.ErrCircuitOpen) {
					opened = i
					break
				}
			}
			if opened == 0 {
				t.Fatal("the breaker never opened")
			}
			const n = 50
			start := time.Now()
			for range n {
				_, err := get(t.Context(), p)
				if !errors.Is(err, upstream.ErrCircuitOpen) || !errors.Is(err, upstream.ErrUnavailable) {
					t.Fatalf("err = %v; want ErrCircuitOpen", err)
				}
			}
			each := time.Since(start) / n
			t.Logf("breaker open after %d failed requests; then %v per request (timeout %v)", opened, each, timeout)
			if each > timeout/2 {
				t.Errorf("failing fast took %v per request; want well under the %v timeout", each, timeout)
			}
			if s := p.Stats().Breaker; s != upstream.Open {
				t.Errorf("breaker %v, want open", s)
			}
		})
	}
}

func TestBreakerHalfOpenRecovers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ejectBase time.Duration
	}{
		{"ejection over before the probe", time.Second},
		{"probe goes to a replica still ejected", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			r := newReplica(t, ok)
			addr := strings.TrimPrefix(r.url, "http://")
			p := newPool(t, upstream.Options{
				Targets: []string{r.url}, HealthInterval: -1, Clock: clock, EjectBase: tc.ejectBase,
				Breaker: upstream.BreakerOptions{OpenFor: 5 * time.Second},
			})
			if code, err := get(t.Context(), p); err != nil || code != 200 {
				t.Fatalf("GET = %d, %v", code, err)
			}
			r.stop()
			for range 5 {
				_, _ = get(t.Context(), p)
			}
			if _, err := get(t.Context(), p); !errors.Is(err, upstream.ErrCircuitOpen) {
				t.Fatalf("with the only replica down: err = %v; want ErrCircuitOpen", err)
			}

			// The replica comes back on the same address; the breaker waits OpenFor.
			back := httptest.NewUnstartedServer(http.HandlerFunc(ok))
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Skipf("cannot listen on %s again: %v", addr, err)
			}
			back.Listener = l
			back.Start()
			t.Cleanup(back.Close)
			if _, err := get(t.Context(), p); !errors.Is(err, upstream.ErrCircuitOpen) {
				t.Fatalf("before OpenFor passed: err = %v; want ErrCircuitOpen", err)
			}
			clock.Advance(5 * time.Second)
			if code, err := get(t.Context(), p); err != nil || code != 200 {
				t.Fatalf("half-open probe: %d, %v; want 200", code, err)
			}
			st := p.Stats()
			if st.Breaker != upstream.Closed || st.Targets[0].Ejected != 0 {
				t.Errorf("after a good probe: breaker %v, replica ejected for %v; want closed and admitted", st.Breaker, st.Targets[0].Ejected)
			}
			for range 10 {
				if code, err := get(t.Context(), p); err != nil || code != 200 {
					t.Fatalf("after recovery: %d, %v", code, err)
				}
			}
		})
	}
}

func TestBreakerHalfOpenFailedProbeReopens(t *testing.T) {
	clock := newFakeClock()
	p := newPool(t, upstream.Options{
		Targets: []string{refusedURL(t)}, HealthInterval: -1, Clock: clock,
		Breaker: upstream.BreakerOptions{OpenFor: time.Second},
	})
	for range 5 {
		_, _ = get(t.Context(), p)
	}
	if p.Stats().Breaker != upstream.Open {
		t.Fatal("breaker not open")
	}
	clock.Advance(time.Second)
	if _, err := get(t.Context(), p); err == nil || errors.Is(err, upstream.ErrCircuitOpen) {
		t.Fatalf("probe err = %v; want the replica's own error", err)
	}
	if s := p.Stats().Breaker; s != upstream.Open {
		t.Errorf("after a failed probe the breaker is %v; want open", s)
	}
}

func TestRetryBudgetCapsRetries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     upstream.RetryBudget
		max   int // retries allowed for n requests
		atMin int
	}{
		{"20% + 5/s", upstream.RetryBudget{Ratio: 0.2, MinPerSecond: 5}, 5 + 40, 5 + 40 - 1},
		{"floor only", upstream.RetryBudget{Ratio: -1, MinPerSecond: 5}, 5, 5},
		{"no floor", upstream.RetryBudget{Ratio: 0.5, MinPerSecond: -1}, 100, 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*replica
			for range 4 {
				rs = append(rs, newReplica(t, status(503)))
			}
			p := newPool(t, upstream.Options{
				Targets: urls(rs...), HealthInterval: -1, Retries: 3, RetryBudget: tc.b,
				EjectAfter: -1, Breaker: upstream.BreakerOptions{Failures: -1},
				Clock: newFakeClock(), // no time passes: no floor refill
			})
			const n = 200
			for range n {
				if code, err := get(t.Context(), p); err != nil || code != 503 {
					t.Fatalf("GET = %d, %v; want the 503", code, err)
				}
			}
			var attempts int
			for _, r := range rs {
				attempts += int(r.hits.Load())
			}
			retries := attempts - n
			t.Logf("%d requests, %d retries (without a budget: %d)", n, retries, 3*n)
			if retries > tc.max || retries < tc.atMin {
				t.Errorf("%d retries; want %d..%d", retries, tc.atMin, tc.max)
			}
		})
	}
}

func TestStreamOutlivesTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const events = 10
	r := newReplica(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range events {
			_, _ = io.WriteString(w, "data: tick\n\n")
			_ = rc.Flush()
			if i < events-1 {
				time.Sleep(60 * time.Millisecond)
			}
		}
	})
	p := newPool(t, upstream.Options{Targets: []string{r.url}, Timeout: timeout, HealthInterval: -1})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc/v1/realtime", nil)
	start := time.Now()
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Targets[0].InFlight; got != 1 {
		t.Errorf("in flight while streaming = %d; want 1", got)
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		if sc.Text() == "data: tick" {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("stream broke after %d events, %v: %v", n, time.Since(start), err)
	}
	resp.Body.Close()
	t.Logf("%d events over %v through a pool with a %v timeout", n, time.Since(start), timeout)
	if n != events || time.Since(start) < timeout*2 {
		t.Errorf("%d events in %v; want %d over more than %v", n, time.Since(start), events, 2*timeout)
	}
	if got := p.Stats().Targets[0].InFlight; got != 0 {
		t.Errorf("in flight after the body was closed = %d; want 0", got)
	}
}

func TestUpgradePassesThrough(t *testing.T) {
	r := newReplica(t, func(w http.ResponseWriter, req *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString(line)
		_ = brw.Flush()
	})
	p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rw, isRW := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !isRW {
		t.Fatalf("status %d, body writable %v; want 101 and a writable body", resp.StatusCode, isRW)
	}
	if _, err := io.WriteString(rw, "hello\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := bufio.NewReader(rw).ReadString('\n')
	if got != "hello\n" {
		t.Errorf("echo = %q", got)
	}
}

// TestRetriedUploadStreamsToTheEnd: a streamed POST whose first attempt
// meets a refused connection is sent to another replica, which answers
// before it has read the body (full duplex): the body must reach it whole.
// (The close the failed attempt made used to be done when the response
// came back, cutting the upload short.)
func TestRetriedUploadStreamsToTheEnd(t *testing.T) {
	good := newReplica(t, func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %d, %v", len(b), err)
	})
	p := newPool(t, upstream.Options{Targets: []string{refusedURL(t), good.url}, HealthInterval: -1, EjectAfter: -1,
		Breaker: upstream.BreakerOptions{Failures: -1}})
	retried := 0
	for range 8 {
		before := p.Stats().Targets[0].Requests
		body, w := io.Pipe()
		go func() {
			for range 5 {
				time.Sleep(10 * time.Millisecond)
				if _, err := w.Write([]byte(strings.Repeat("a", 100))); err != nil {
					return
				}
			}
			_ = w.Close()
		}()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://svc/upload", body)
		resp, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || string(got) != "got 500, <nil>" {
			t.Fatalf("answer %q, %v; want the whole body received", got, err)
		}
		if p.Stats().Targets[0].Requests > before {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no upload met the refused replica first")
	}
}

// TestLateSuccessKeepsEjection: a slow request sent before a replica was
// ejected, succeeding during the ejection, does not re-admit it.
func TestLateSuccessKeepsEjection(t *testing.T) {
	r := newReplica(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1, EjectAfter: 3, EjectBase: 10 * time.Second,
		Breaker: upstream.BreakerOptions{Failures: -1}})
	slow := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc/slow", nil)
		resp, err := p.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		slow <- err
	}()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://svc/fail", nil)
		if resp, err := p.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
		}
	}
	if st := p.Stats().Targets[0]; st.Ejected <= 0 {
		t.Fatalf("not ejected after 3 failures: %+v", st)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if st := p.Stats().Targets[0]; st.Ejected <= 0 {
		t.Fatalf("the slow request's late success re-admitted the replica: %+v", st)
	}
}
