package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/testenv"
)

// switchingResolver answers every name with the addresses it holds now.
type switchingResolver struct {
	mu      sync.Mutex
	addrs   []string
	lookups atomic.Int64
}

func (r *switchingResolver) set(addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = addrs
}

func (r *switchingResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.lookups.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []net.IPAddr
	for _, a := range r.addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

// TestRouteDNSUpstream: a user route's dns+http:// upstream is every
// address of the name, on the URL's port, followed as the answer changes;
// a reload that drops the route stops its lookups.
func TestRouteDNSUpstream(t *testing.T) {
	// Two replicas on one port, on two loopback addresses.
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln1.Addr().(*net.TCPAddr).Port
	ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		ln1.Close()
		t.Skipf("127.0.0.2:%d: %v", port, err)
	}
	replica := func(ln net.Listener, tag string) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, tag)
		}))
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
	}
	replica(ln1, "one")
	replica(ln2, "two")

	res := &switchingResolver{}
	res.set("127.0.0.1")
	yaml := fmt.Sprintf("gateway:\n  routes:\n    - path: /v1/orders/\n      upstream: dns+http://orders.test:%d\n", port)
	c, err := loadConfig(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{Log: quiet(), DNS: discovery.DNS{Resolver: res, Interval: 20 * time.Millisecond}}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet(), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	t.Cleanup(srv.Close)

	get := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/v1/orders/1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body [16]byte
		n, _ := resp.Body.Read(body[:])
		return fmt.Sprintf("%d %s", resp.StatusCode, body[:n])
	}
	// Resolved before the route served: the first request has a replica.
	if got := get(); got != "200 one" {
		t.Fatalf("first request: %q, want 200 one", got)
	}
	res.set("127.0.0.2")
	testenv.WaitFor(t, 5*time.Second, "the pool to follow the new DNS answer", func() bool { return get() == "200 two" })
	res.set("127.0.0.1", "127.0.0.2")
	testenv.WaitFor(t, 5*time.Second, "both addresses to serve", func() bool {
		seen := map[string]bool{}
		for range 20 {
			seen[get()] = true
		}
		return seen["200 one"] && seen["200 two"]
	})

	// A reload without the route stops the watcher.
	c2, err := loadConfig(t, "gateway:\n  routes: []\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(g, c2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a lookup in progress may finish
	n := res.lookups.Load()
	time.Sleep(100 * time.Millisecond)
	if m := res.lookups.Load(); m != n {
		t.Errorf("%d lookups after the route was removed", m-n)
	}
}
