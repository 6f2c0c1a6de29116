package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/testenv"
)

// checkedReplica is a user service that names itself in its answers and
// whose /readyz can be made to fail.
type checkedReplica struct {
	*httptest.Server
	ready  atomic.Bool
	checks atomic.Int64 // requests for /readyz
}

func newCheckedReplica(t *testing.T, name string) *checkedReplica {
	r := &checkedReplica{}
	r.ready.Store(true)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" {
			r.checks.Add(1)
			if !r.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(r.Close)
	return r
}

// TestRouteHealthChecks: a route with health.path checks each replica
// there, sends nothing to one that answers its check with anything but
// 2xx — though it would serve the request — and takes it back once it
// passes again. A route without health.path never asks.
func TestRouteHealthChecks(t *testing.T) {
	a, b := newCheckedReplica(t, "a"), newCheckedReplica(t, "b")
	plain := newCheckedReplica(t, "plain")
	c, err := loadConfig(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /orders/, upstream: "%s,%s", health: {path: /readyz, interval: 20ms}}
    - {path: /plain/, upstream: "%s"}
`, a.URL, b.URL, plain.URL))
	if err != nil {
		t.Fatal(err)
	}
	bld := &gateway.Builder{Log: quiet()}
	t.Cleanup(func() { bld.Close() })
	g, err := bld.New(c, gateway.Options{Log: quiet(), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	t.Cleanup(srv.Close)
	served := func(path string, n int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for range n {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen[fmt.Sprintf("%d %s", resp.StatusCode, body)]++
		}
		return seen
	}

	testenv.WaitFor(t, 5*time.Second, "both replicas to serve", func() bool {
		s := served("/orders/1", 20)
		return s["200 a"] > 0 && s["200 b"] > 0
	})
	b.ready.Store(false)
	testenv.WaitFor(t, 5*time.Second, "the failing replica to be left out", func() bool {
		return served("/orders/1", 20)["200 a"] == 20
	})
	if s := served("/orders/1", 50); s["200 a"] != 50 {
		t.Errorf("while b fails its check: %v; want every request on a", s)
	}
	b.ready.Store(true)
	testenv.WaitFor(t, 5*time.Second, "the replica back after it passes", func() bool {
		return served("/orders/1", 20)["200 b"] > 0
	})
	if a.checks.Load() == 0 || b.checks.Load() == 0 {
		t.Errorf("checks: a %d, b %d; want both checked", a.checks.Load(), b.checks.Load())
	}

	if s := served("/plain/1", 5); s["200 plain"] != 5 {
		t.Errorf("route without health: %v", s)
	}
	if n := plain.checks.Load(); n != 0 {
		t.Errorf("a route without health.path asked its replica for /readyz %d times", n)
	}
}
