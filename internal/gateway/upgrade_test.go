package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/transport"
)

// wsService is a built-in service as bam runs one in the gateway's
// process: its own middleware stack, reached through transport.InProcess.
// On /v1/ws/ it accepts a WebSocket, sends what the request looked like
// to it, then echoes.
func wsService() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws/", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept answered
		}
		defer c.CloseNow()
		seen, _ := json.Marshal(map[string]string{"path": r.URL.Path, "xff": r.Header.Get("X-Forwarded-For"),
			"request_id": r.Header.Get("X-Request-Id"), "auth": r.Header.Get("Authorization"),
			"real_ip": r.Header.Get("X-Real-Ip")})
		if err := c.Write(r.Context(), websocket.MessageText, seen); err != nil {
			return
		}
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	return httpx.Stack("ws", quiet(), mux)
}

// TestWebSocketToInProcessService: a WebSocket upgrade to a service in the
// gateway's process passes the whole edge — the middleware stack,
// compression, edge auth, a rate limit — on a real listener, reaches the
// service with the forwarded headers and the caller's token, and carries
// messages both ways; a bad token is still refused at the edge.
func TestWebSocketToInProcessService(t *testing.T) {
	a := newFakeAuth(t)
	c, err := loadConfig(t, "gateway:\n  rate_limit: {rps: 100, burst: 100}\n")
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{
		Builtin:   []gateway.Route{{Prefix: "/v1/ws/", Upstream: "ws"}},
		Upstreams: map[string]http.RoundTripper{"ws": transport.InProcess(wsService())},
		Log:       quiet(),
	}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet(), Auth: a.edge(t), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := &kernel.HTTPServer{Name: "gateway", Addr: "127.0.0.1:0", Handler: httpx.Stack("gateway", quiet(), g), Log: quiet()}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url := "ws://" + srv.BoundAddr() + "/v1/ws/echo"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := a.token("u1", nil)
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": {"Bearer " + tok}, "Accept-Encoding": {"gzip"}, "X-Real-Ip": {"203.0.113.9"}}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer conn.CloseNow()
	if resp.Header.Get("RateLimit-Limit") != "100" || len(resp.Header.Values("X-Request-Id")) != 1 {
		t.Errorf("upgrade response lacks the edge's headers: %v", resp.Header)
	}
	_, first, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen map[string]string
	_ = json.Unmarshal(first, &seen)
	if seen["path"] != "/v1/ws/echo" || seen["xff"] != "127.0.0.1" || seen["request_id"] != resp.Header.Get("X-Request-Id") ||
		seen["auth"] != "Bearer "+tok || seen["real_ip"] != "" {
		t.Errorf("the service saw %s", first)
	}
	for _, msg := range []string{"hello", strings.Repeat("y", 20<<10)} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := conn.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %d back, %v", len(msg), len(got), err)
		}
	}
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}

	_, resp, err = websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer nope"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v, %v; want 401", err, resp)
	}
}

// TestNoDuplicateEdgeHeaders: headers both the edge and a built-in
// service set to the same value — the request id the service echoes,
// nosniff on its problem answers — reach the client once.
func TestNoDuplicateEdgeHeaders(t *testing.T) {
	svc := httpx.Stack("svc", quiet(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "teapot", http.StatusTeapot) // sets nosniff
	}))
	c, err := loadConfig(t, "gateway:\n  rate_limit: {rps: 0}\n")
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{Builtin: []gateway.Route{{Prefix: "/v1/svc/", Upstream: "svc"}},
		Upstreams: map[string]http.RoundTripper{"svc": transport.InProcess(svc)}, Log: quiet()}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	t.Cleanup(srv.Close)
	resp, _ := do(t, "GET", srv.URL+"/v1/svc/x", nil)
	for _, k := range []string{"X-Request-Id", "X-Content-Type-Options", "Referrer-Policy"} {
		if v := resp.Header.Values(k); len(v) != 1 {
			t.Errorf("%s = %q, want one value", k, v)
		}
	}
}
