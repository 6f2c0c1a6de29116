package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/transport"
)

// mirror is an upstream that answers with what it received, so that two
// gateways can be compared on what they send as well as on what they
// answer. /big answers 100 KiB (streamed by the lane), /stream a chunked
// body, /fail 503.
func mirror(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big", "/o/big":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte(strings.Repeat("b", 100<<10)))
			return
		case "/stream", "/o/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
			return
		case "/json", "/o/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"v1"`)
			_, _ = w.Write([]byte(`{"items":"` + strings.Repeat("abc", 1000) + `"}`))
			return
		case "/fail", "/o/fail":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var names []string
		for k := range r.Header {
			// fasthttp sends an empty DELETE with Content-Length: 0,
			// net/http without: the same request.
			if k != "Content-Length" || r.ContentLength != 0 {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Upstream", "mirror")
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.test") // the gateway's CORS wins
		fmt.Fprintf(w, "%s %s host=%s\nauth=%s\nxff=%s xfh=%s xfp=%s\nid=%s\ncl=%d body=%q\nheaders=%v\nte=%s\n",
			r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("Authorization"),
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Request-Id"), r.ContentLength, body, names, r.Header.Get("Te"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// lanes serves yaml's gateway twice: through net/http (httpx.Stack, as
// before the lane) and through the fast lane (native path, net/http view
// and hand-over). Each has its own gateway, pools and limiter.
func lanes(t *testing.T, yaml string, log *slog.Logger) (slow, fast string, f *fastlane.Server, a *fakeAuth) {
	t.Helper()
	c, err := loadConfig(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	a = newFakeAuth(t)
	build := func() *gateway.Gateway {
		b := &gateway.Builder{
			Builtin:   []gateway.Route{{Prefix: "/v1/auth/", Upstream: "auth"}, {Prefix: "/.well-known/", Upstream: "auth"}},
			Upstreams: map[string]http.RoundTripper{"auth": transport.InProcess(a)},
			Log:       log,
		}
		t.Cleanup(func() { b.Close() })
		g, err := b.New(c, gateway.Options{Log: log, Auth: a.edge(t),
			Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	s := httptest.NewServer(httpx.Stack("gateway", log, build()))
	t.Cleanup(s.Close)
	g := build()
	f = &fastlane.Server{Name: "gateway", Addr: "127.0.0.1:0", Handler: httpx.Stack("gateway", log, g),
		Fast: g.Fast, Native: g.ServeNative, Log: log, MaxBody: 16 << 10}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.Stop(ctx)
	})
	return s.URL, "http://" + f.BoundAddr(), f, a
}

// TestFastLaneMatchesNetHTTP sends the same requests to a gateway served
// by net/http and to one served by the fast lane, and wants the same
// answers — status, headers but Date, body — and the same requests at the
// upstream. It covers the native path (open and token routes, rate limit
// headers and 429, version headers, strip prefix, request ids, bodies,
// HEAD, streamed and chunked answers, upstream failures), the lane's
// net/http view (CORS requests, API keys, refusals) and hand-overs
// (compression, large bodies, built-in routes).
func TestFastLaneMatchesNetHTTP(t *testing.T) {
	// At info, every request has its access log line: the lane serves
	// them through the gateway's http.Handler. At warn, natively.
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			f := sameAnswers(t, log)
			native, view, handed := f.Served()
			t.Logf("served natively %d, through the handler %d; handed over %d", native, view, handed)
			if handed == 0 || view == 0 || (native == 0) != (level == slog.LevelInfo) {
				t.Errorf("native %d, view %d, handed %d: a path was not taken", native, view, handed)
			}
		})
	}
}

func sameAnswers(t *testing.T, log *slog.Logger) *fastlane.Server {
	up := mirror(t)
	down := "http://127.0.0.1:1" // nothing listens there
	slow, fast, f, a := lanes(t, fmt.Sprintf(`gateway:
  rate_limit: {per: ip, rps: 0.001, burst: 40}
  cors_origins: [https://app.test]
  trusted_proxies: [127.0.0.0/8]
  max_body: 24KiB
  routes:
    - {path: /o/, upstream: %[1]s, auth: none}
    - {path: /strip/, upstream: %[1]s, auth: none, strip_prefix: true}
    - {path: /jwt/, upstream: %[1]s, auth: required, strip_prefix: true, rate_limit: {per: user, rps: 0.001, burst: 3}}
    - {path: /maybe/, upstream: %[1]s, auth: optional, strip_prefix: true}
    - {path: /staff/, upstream: %[1]s, auth: required, roles: [staff], strip_prefix: true}
    - {path: /old/, upstream: %[1]s, auth: none, deprecated: true, sunset: "2030-01-01T00:00:00Z", strip_prefix: true}
    - {path: /down/, upstream: %[2]s, auth: none, retries: 0}
    - {path: /h/, host: internal.example, upstream: %[1]s, auth: required}
    - {path: /, upstream: %[1]s, auth: none}
`, up, down), log)
	token := "Bearer " + a.token("u1", nil)
	staff := "Bearer " + a.token("u2", map[string]any{"roles": []string{"staff"}})
	type req struct {
		method, path, body string
		header             map[string]string
	}
	id := func(n int) map[string]string { return map[string]string{"X-Request-Id": fmt.Sprintf("req-%d", n)} }
	with := func(n int, kv ...string) map[string]string {
		h := id(n)
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	reqs := []req{
		{"GET", "/o/x?a=1&b=%20", "", id(1)},
		{"GET", "/o/x", "", with(2, "X-Forwarded-For", "203.0.113.9", "X-Real-Ip", "1.2.3.4", "Forwarded", "for=x")},
		{"GET", "/o/x", "", with(3, "Connection", "X-Secret", "X-Secret", "1", "Te", "trailers")},
		{"HEAD", "/o/x", "", id(4)},
		{"POST", "/o/x", `{"n":1}`, with(5, "Content-Type", "application/json")},
		{"POST", "/o/x", "no type", id(8)},
		{"POST", "/o/x", strings.Repeat("x", 12000), id(6)}, // in the lane, past fasthttp's first 8 KiB
		{"POST", "/o/x", strings.Repeat("x", 20000), id(6)}, // over the lane's MaxBody: handed over
		{"POST", "/o/x", strings.Repeat("x", 30000), id(7)}, // over the route's max_body: 413
		{"GET", "/o/big", "", id(8)},
		{"GET", "/o/stream", "", id(9)},
		{"GET", "/o/fail", "", id(10)},
		{"GET", "/strip/a/b?q=1", "", id(11)},
		{"GET", "/strip", "", id(12)},
		{"GET", "/old/x", "", id(13)},
		{"GET", "/down/x", "", id(14)},
		{"GET", "/jwt/x", "", id(15)},
		{"GET", "/jwt/x", "", with(16, "Authorization", "Bearer not.a.jwt")},
		{"GET", "/jwt/x", "", with(17, "Authorization", token)},
		{"GET", "/jwt/x", "", with(18, "Authorization", token)},
		{"GET", "/jwt/x", "", with(19, "Authorization", token)},
		{"GET", "/jwt/x", "", with(20, "Authorization", token)}, // the fourth: 429
		{"GET", "/jwt/x", "", with(21, "X-Api-Key", "bam_unknownkey")},
		{"GET", "/maybe/x", "", id(22)},
		{"GET", "/maybe/x", "", with(23, "Authorization", "Basic dTpw")},
		{"GET", "/staff/x", "", with(24, "Authorization", token)},
		{"GET", "/staff/x", "", with(25, "Authorization", staff)},
		{"GET", "/o/x", "", with(26, "Origin", "https://app.test")},
		{"OPTIONS", "/o/x", "", with(27, "Origin", "https://app.test", "Access-Control-Request-Method", "PUT")},
		{"GET", "/o/x", "", with(28, "Accept-Encoding", "gzip")},
		{"GET", "/o/x", "", with(29, "X-Request-Id", "bad id with spaces")},
		{"GET", "/o/%2e%2e/x", "", id(30)},
		{"GET", "/nowhere", "", id(31)},
		{"DELETE", "/o/x", "", id(32)},
		{"GET", "/o/json", "", with(33, "Accept-Encoding", "gzip")},
		{"GET", "/o/json", "", with(34, "Accept-Encoding", "br, gzip;q=0.5")},
		{"GET", "/o/json", "", with(35, "Accept-Encoding", "zstd")},
		{"GET", "/o/json", "", id(36)},
		{"HEAD", "/o/json", "", with(37, "Accept-Encoding", "gzip")},
		{"GET", "/o/stream", "", with(38, "Accept-Encoding", "gzip")},
		{"GET", "/o/big", "", with(39, "Accept-Encoding", "gzip")},
		{"GET", "/jwt/x", "", with(40, "Authorization", staff, "Accept-Encoding", "gzip")},
		{"GET", "/o/x", "", with(41, "Accept-Encoding", "br")},
		{"GET", "/o/fail", "", with(42, "Accept-Encoding", "gzip")},
		{"GET", "/o/json", "", with(43, "Accept-Encoding", "gzip", "Cache-Control", "no-transform")},
	}
	// A connection per request: a hand-over keeps the connection on net/http.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}}
	send := func(base string, r req) (int, http.Header, string) {
		hr, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
		if r.body == "" {
			hr.Body = nil
		}
		for k, v := range r.header {
			hr.Header.Set(k, v)
		}
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if enc := resp.Header.Get("Content-Encoding"); enc != "" && r.method != "HEAD" {
			body = decode(t, enc, body) // the same text may compress to other bytes
		}
		h := resp.Header.Clone()
		h.Del("Date")
		if v := h.Get("X-Request-Id"); r.header["X-Request-Id"] == "bad id with spaces" && len(v) == 36 {
			h.Set("X-Request-Id", "<new>") // a new id each time: compare its shape only
		}
		b := strings.ReplaceAll(string(body), strings.TrimPrefix(base, "http://"), "HOST")
		if i := strings.Index(b, "\nid="); i >= 0 && r.header["X-Request-Id"] == "bad id with spaces" {
			b = b[:i] // the new id the upstream saw
		}
		if i := strings.Index(b, `"requestId"`); i >= 0 && r.header["X-Request-Id"] == "bad id with spaces" {
			b = b[:i]
		}
		return resp.StatusCode, h, b
	}
	// Requests no well-behaved client sends, as bytes: only the status
	// lines are compared (a path refused, a route's host taken from an
	// absolute-form target, the docs), with the upstream's echo of what it
	// was sent.
	for _, rawReq := range []string{
		"GET //admin/y HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /o/x\\..\\..\\jwt/y HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /o//x HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /o/..;x/jwt/y HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://internal.example/h/x HTTP/1.1\r\nHost: public.example\r\n\r\n",
		"GET http://other.example/strip/x HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /docs HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /o/x HTTP/1.1\r\nHost: h\r\nX Forwarded For: 1.2.3.4\r\n\r\n",
	} {
		a, b := rawStatus(t, slow, rawReq), rawStatus(t, fast, rawReq)
		if a != b {
			t.Errorf("%q: %q via net/http, %q via the lane", rawReq, a, b)
		}
	}
	for _, r := range reqs {
		s1, h1, b1 := send(slow, r)
		s2, h2, b2 := send(fast, r)
		name := r.method + " " + r.path
		if s1 != s2 {
			t.Errorf("%s: status %d via net/http, %d via the lane", name, s1, s2)
		}
		if fmt.Sprint(normalize(h1)) != fmt.Sprint(normalize(h2)) {
			t.Errorf("%s: headers differ\nnet/http: %v\nlane:     %v", name, normalize(h1), normalize(h2))
		}
		if b1 != b2 {
			t.Errorf("%s: bodies differ\nnet/http: %.600s\nlane:     %.600s", name, b1[max(0, len(b1)-600):], b2[max(0, len(b2)-600):])
		}
	}
	return f
}

// rawStatus sends request as bytes to base and returns the answer's
// status line and, when the upstream answered, the first line it echoed.
func rawStatus(t *testing.T, base, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	first, _, _ := strings.Cut(string(body), "\n")
	if resp.Header.Get("X-Upstream") == "" {
		first = ""
	}
	return resp.Status + " " + strings.ReplaceAll(first, strings.TrimPrefix(base, "http://"), "HOST")
}

// normalize sorts each header's values (their order across different
// header names is not kept by either server).
func normalize(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		v = slices.Clone(v)
		slices.Sort(v)
		out[k] = v
	}
	return out
}

// TestFastLaneBodyCutShort: a request whose body ends before its
// Content-Length (the client closed its side) is answered 400 by the
// native path, not sent on to the upstream as a shorter request.
func TestFastLaneBodyCutShort(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, fast, f, _ := lanes(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /o/, upstream: %s, auth: none}\n", mirror(t)), log)
	c, err := net.Dial("tcp", strings.TrimPrefix(fast, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = fmt.Fprintf(c, "POST /o/x HTTP/1.1\r\nHost: x\r\nContent-Length: 12000\r\n\r\n%s", strings.Repeat("x", 9000))
	_ = c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Upstream") != "" {
		t.Errorf("status %d, X-Upstream %q; want 400 from the gateway", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
	if native, _, _ := f.Served(); native != 1 {
		t.Errorf("served natively %d, want 1: the native path took it", native)
	}
}
