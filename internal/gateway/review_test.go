package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/ratelimit"
)

// rawGet sends path exactly as written (no client-side cleaning or
// escaping) and returns the status line's code.
func rawGet(t *testing.T, srvURL, path string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n", path)
	var proto string
	var code int
	if _, err := fmt.Fscan(conn, &proto, &code); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return code
}

// TestPathNormalisation: a path with dot segments, doubled slashes or
// encoded separators is refused before routing, so it can't match an open
// route and reach another one upstream; a prefix without a trailing slash
// matches whole segments only.
func TestPathNormalisation(t *testing.T) {
	up := echoServer(t, "up")
	srv, _ := front(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /v1/pub/, upstream: %[1]s, auth: none}
    - {path: /v1/orders/, upstream: %[1]s, auth: none, strip_prefix: true}
    - {path: /api, upstream: %[1]s, auth: none}
`, up))
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/v1/pub/x", 200},
		{"/v1/pub/", 200},
		{"/v1/pub/../admin/x", 400},
		{"/v1/pub/%2e%2e/admin", 400},
		{"/v1/pub/%2E%2E/admin", 400},
		{"/v1/pub/a%2fb", 400},
		{"/v1/pub/a%5cb", 400},
		{"/v1/pub/a\\b", 400},
		{"/v1/pub//x", 400},
		{"/v1/pub/./x", 400},
		{"/v1/pub/..;/admin", 400}, // Tomcat, Jetty, Spring: ..;x is ..
		{"/v1/pub/..%3b/admin", 400},
		{"/v1/pub/.;x/admin", 400},
		{"/v1/pub/a;b/x", 200}, // a matrix parameter on a plain segment is the upstream's business
		{"/v1/orders/../admin", 400},
		{"/v1/orders/42", 200},
		{"/api", 200},
		{"/api/x", 200},
		{"/apix", 404},
	} {
		if got := rawGet(t, srv.URL, tc.path); got != tc.want {
			t.Errorf("GET %s = %d; want %d", tc.path, got, tc.want)
		}
	}
	resp, body := do(t, "GET", srv.URL+"/v1/pub/../admin/x", nil)
	if resp.StatusCode != 400 || body["code"] != "gateway.bad_path" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("dot segments: %d %v %v; want 400 gateway.bad_path problem", resp.StatusCode, resp.Header, body)
	}
}

// TestInvalidCredentialsAreRateLimited: the per-IP limit runs before
// authentication, so a client guessing credentials (401s) is limited too.
func TestInvalidCredentialsAreRateLimited(t *testing.T) {
	up := echoServer(t, "orders")
	srv, _ := front(t, fmt.Sprintf(`gateway:
  rate_limit: {per: ip, rps: 0.001, burst: 3}
  routes:
    - {path: /orders/, upstream: %[1]s, auth: required}
`, up))
	forged := map[string]string{"Authorization": "Bearer not.a.token"}
	var statuses []int
	for range 5 {
		resp, _ := do(t, "GET", srv.URL+"/orders/1", forged)
		statuses = append(statuses, resp.StatusCode)
	}
	if fmt.Sprint(statuses) != "[401 401 401 429 429]" {
		t.Errorf("bad credentials got %v; want [401 401 401 429 429] (burst 3 per IP)", statuses)
	}
}

// TestIPv6LimitedPer64: IPv6 clients share a bucket per /64, since one
// host commonly holds the whole /64.
func TestIPv6LimitedPer64(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	g, err := gateway.New(gateway.Table{
		Routes: []gateway.Route{{Prefix: "/x/", Upstream: "up", Auth: gateway.AuthNone}},
		Upstreams: map[string]http.RoundTripper{"up": roundTripFunc(func(r *http.Request) (*http.Response, error) {
			rec := httptest.NewRecorder()
			ok.ServeHTTP(rec, r)
			return rec.Result(), nil
		})},
		RateLimit: gateway.Limit{Per: gateway.PerIP, Limit: ratelimit.Limit{Rate: 0.001, Burst: 2}},
	}, gateway.Options{Log: quiet(), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	send := func(addr string) int {
		req := httptest.NewRequest("GET", "/x/1", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec.Code
	}
	var got []int
	for _, a := range []string{"[2001:db8:1:2::1]:5000", "[2001:db8:1:2::2]:5000", "[2001:db8:1:2:ffff::9]:5000"} {
		got = append(got, send(a))
	}
	got = append(got, send("[2001:db8:1:3::1]:5000")) // another /64
	if fmt.Sprint(got) != "[200 200 429 200]" {
		t.Errorf("IPv6 clients got %v; want [200 200 429 200] (burst 2 per /64)", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
