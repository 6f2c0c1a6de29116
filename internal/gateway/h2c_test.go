package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// h2cUpstream serves HTTP/1.1 and HTTP/2 without TLS (prior knowledge),
// answering each request with the protocol it arrived in; on /ws it
// accepts a WebSocket and echoes one message with that protocol.
func h2cUpstream(t *testing.T) string {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &protocols, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ws" {
				c, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer c.CloseNow()
				if _, msg, err := c.Read(r.Context()); err == nil {
					_ = c.Write(r.Context(), websocket.MessageText, []byte(r.Proto+" "+string(msg)))
				}
				return
			}
			_, _ = fmt.Fprint(w, r.Proto)
		})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestH2CUpstream: a route with h2c: true reaches its upstream over
// HTTP/2 without TLS; the same upstream behind a route without it sees
// HTTP/1.1; a WebSocket upgrade on the h2c route still works, over
// HTTP/1.1, since HTTP/2 cannot carry it.
func TestH2CUpstream(t *testing.T) {
	up := h2cUpstream(t)
	srv, _ := front(t, fmt.Sprintf(`gateway:
  routes:
    - {path: /h2c/, upstream: "%[1]s", auth: none, strip_prefix: true, h2c: true}
    - {path: /h1/, upstream: "%[1]s", auth: none, strip_prefix: true}
`, up))
	for path, want := range map[string]string{"/h2c/x": "HTTP/2.0", "/h1/x": "HTTP/1.1"} {
		for range 3 { // the pool's connection is reused, in the protocol it was made with
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			if resp.StatusCode != http.StatusOK || got != want {
				t.Fatalf("%s: %d %q reached the upstream; want %s", path, resp.StatusCode, got, want)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):]+"/h2c/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the h2c route: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "HTTP/1.1 hello" {
		t.Fatalf("echo %q, %v; want the upgrade over HTTP/1.1", msg, err)
	}
}
