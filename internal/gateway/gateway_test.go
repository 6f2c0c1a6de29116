package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/transport"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var routes = []gateway.Route{
	{Prefix: "/v1/auth/", Upstream: "auth"},
	{Prefix: "/.well-known/", Upstream: "auth"},
	{Prefix: "/v1/collections/", Upstream: "content"},
	{Prefix: "/v1/collections/batch", Upstream: "batch"},
	{Prefix: "/v1/files/", Upstream: "files"},
	// A route for /admin itself beside one for /admin/: the exact one wins
	// at /admin, though the other sorts first (longer).
	{Prefix: "/admin", Upstream: "admin"},
	{Prefix: "/admin/", Upstream: "admin-tree"},
}

func TestMatch(t *testing.T) {
	g, err := gateway.New(gateway.Table{Routes: routes}, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"/v1/auth/token", "auth"},
		{"/v1/auth", "auth"}, // the prefix without its slash
		{"/.well-known/jwks.json", "auth"},
		{"/v1/collections/posts/records", "content"},
		{"/v1/collections/batch", "batch"}, // longest prefix wins
		{"/v1/collections/batch/1", "batch"},
		{"/v1/collections/batchy", "content"}, // a prefix ends at a segment boundary
		{"/v1/authx", ""},
		{"/admin", "admin"},
		{"/admin/x", "admin-tree"},
		{"/v2/auth/token", ""},
		{"/", ""},
	}
	for _, tt := range tests {
		r, ok := g.Match("GET", "example.com", tt.path)
		if got := r.Upstream; got != tt.want || ok != (tt.want != "") {
			t.Errorf("Match(%q) = %q, %v; want %q", tt.path, got, ok, tt.want)
		}
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	for _, bad := range [][]gateway.Route{
		{{Prefix: "v1/auth/", Upstream: "auth"}},
		{{Prefix: "/a/", Upstream: "x"}, {Prefix: "/a/", Upstream: "y"}},
	} {
		if _, err := gateway.New(gateway.Table{Routes: bad}, gateway.Options{Log: quiet()}); err == nil {
			t.Errorf("New(%v) accepted", bad)
		}
	}
}

// echo reports what the upstream saw.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host,
		"xff": r.Header.Get("X-Forwarded-For"), "xfh": r.Header.Get("X-Forwarded-Host"),
		"xfp": r.Header.Get("X-Forwarded-Proto"), "auth": r.Header.Get("Authorization"),
	})
}

// upstreams serves the same echo service in-process and over HTTP, so each
// test runs against both shapes.
func shapes(t *testing.T, h http.Handler) map[string]http.RoundTripper {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r, err := transport.NewReplicas([]string{srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]http.RoundTripper{"in-process": transport.InProcess(h), "replicas": r}
}

func TestProxy(t *testing.T) {
	for shape, rt := range shapes(t, http.HandlerFunc(echo)) {
		t.Run(shape, func(t *testing.T) {
			g, err := gateway.New(gateway.Table{Routes: routes, Upstreams: map[string]http.RoundTripper{"auth": rt}}, gateway.Options{Log: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
			defer front.Close()

			req, _ := http.NewRequest("GET", front.URL+"/v1/auth/user?x=1", nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6") // a client lying about its address
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("Authorization", "Bearer abc")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var seen map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"path": "/v1/auth/user", "query": "x=1", "xff": "127.0.0.1",
				"xfp": "http", "auth": "Bearer abc", "host": strings.TrimPrefix(front.URL, "http://")}
			for k, v := range want {
				if seen[k] != v {
					t.Errorf("upstream saw %s = %q, want %q", k, seen[k], v)
				}
			}
			if seen["xfh"] == "evil.example" {
				t.Error("client's X-Forwarded-Host passed through")
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no request id on the response")
			}
		})
	}
}

func TestProblems(t *testing.T) {
	g, err := gateway.New(gateway.Table{Routes: routes}, gateway.Options{Log: quiet()}) // no upstream reachable
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	defer front.Close()
	dead, _ := transport.NewReplicas([]string{"http://127.0.0.1:1"})
	gDead, _ := gateway.New(gateway.Table{Routes: routes, Upstreams: map[string]http.RoundTripper{"auth": dead}}, gateway.Options{Log: quiet()})
	frontDead := httptest.NewServer(httpx.Stack("gateway", quiet(), gDead))
	defer frontDead.Close()

	for _, tt := range []struct {
		url    string
		status int
		code   string
	}{
		{front.URL + "/nowhere", 404, "gateway.route_not_found"},
		{front.URL + "/v1/files/x", 503, "gateway.upstream_unavailable"},
		{frontDead.URL + "/v1/auth/token", 503, "gateway.upstream_unavailable"},
	} {
		resp, err := http.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(b), `"code":"`+tt.code+`"`) {
			t.Errorf("GET %s = %d %s %s", tt.url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}

// TestStreaming: server-sent events reach the client as they are flushed,
// not when the upstream finishes.
func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	sse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "data: two\n\n")
	})
	for shape, rt := range shapes(t, sse) {
		t.Run(shape, func(t *testing.T) {
			g, _ := gateway.New(gateway.Table{Routes: routes, Upstreams: map[string]http.RoundTripper{"content": rt}}, gateway.Options{Log: quiet()})
			front := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
			defer front.Close()
			resp, err := http.Get(front.URL + "/v1/collections/realtime")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(resp.Body).ReadString('\n')
				line <- l
			}()
			select {
			case l := <-line:
				if l != "data: one\n" {
					t.Fatalf("first line %q", l)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("first event not streamed through the gateway")
			}
		})
	}
	close(release)
}
