package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
)

// Long streams pass through the whole edge — the httpx middleware stack,
// compression, body limits, an upstream pool whose per-attempt timeout is
// far shorter than the stream — for as long as they last.
const (
	streamFor   = 30 * time.Second
	streamEvery = 250 * time.Millisecond
)

// streamUpstream echoes WebSocket messages and sends an SSE event
// every streamEvery for streamFor on …/sse.
func streamUpstream(t *testing.T) string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sse") {
			w.Header().Set("Content-Type", "text/event-stream")
			tick := time.NewTicker(streamEvery)
			defer tick.Stop()
			for i := range int(streamFor / streamEvery) {
				_, _ = fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i)
				if err := http.NewResponseController(w).Flush(); err != nil {
					return
				}
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	return up.URL
}

// streamGateway serves /direct/ over a plain transport and /pool/ over a
// user route's upstream pool (timeout 1s), with the config defaults
// (compression on, 10 MiB body limit), on a kernel.HTTPServer as in bam.
func streamGateway(t *testing.T, up string) string {
	c, err := loadConfig(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /pool/, upstream: %s, auth: none, timeout: 1s}\n", up))
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{
		Builtin:   []gateway.Route{{Prefix: "/direct/", Upstream: "direct", Auth: gateway.AuthNone}},
		Upstreams: map[string]http.RoundTripper{"direct": directTransport{up, upstream.NewTransport()}},
		Log:       quiet(),
	}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := &kernel.HTTPServer{Name: "gateway", Addr: "127.0.0.1:0", Handler: httpx.Stack("gateway", quiet(), g), Log: quiet()}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.BoundAddr()
}

// directTransport sends every request to one base URL.
type directTransport struct {
	base string
	rt   http.RoundTripper
}

func (d directTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = "http", strings.TrimPrefix(d.base, "http://")
	return d.rt.RoundTrip(r)
}

func TestWebSocketStaysOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s stream")
	}
	t.Parallel()
	addr := streamGateway(t, streamUpstream(t))
	for _, path := range []string{"/direct/ws", "/pool/ws"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), streamFor+30*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, "ws://"+addr+path, &websocket.DialOptions{
				HTTPHeader: http.Header{"Accept-Encoding": {"gzip"}}})
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer c.CloseNow()
			start := time.Now()
			tick := time.NewTicker(streamEvery)
			defer tick.Stop()
			n := int(streamFor / streamEvery)
			for i := range n {
				want := fmt.Sprintf("message %d", i)
				if err := c.Write(ctx, websocket.MessageText, []byte(want)); err != nil {
					t.Fatalf("after %v, write %d: %v", time.Since(start), i, err)
				}
				readCtx, done := context.WithTimeout(ctx, 5*time.Second)
				_, got, err := c.Read(readCtx)
				done()
				if err != nil || string(got) != want {
					t.Fatalf("after %v, read %q, %v; want %q", time.Since(start), got, err, want)
				}
				<-tick.C
			}
			if d := time.Since(start); d < streamFor {
				t.Fatalf("open for %v only", d)
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("close: %v", err)
			}
			t.Logf("%d messages each way in order over %v", n, time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestSSEStaysOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s stream")
	}
	t.Parallel()
	addr := streamGateway(t, streamUpstream(t))
	req, _ := http.NewRequest("GET", "http://"+addr+"/pool/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip") // compression must leave the stream alone
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); resp.StatusCode != http.StatusOK || ce != "" {
		t.Fatalf("status %d, Content-Encoding %q", resp.StatusCode, ce)
	}
	start, last := time.Now(), time.Now()
	var worst time.Duration
	sc := bufio.NewScanner(resp.Body)
	i := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if want := fmt.Sprintf("data: event %d", i); line != want {
			t.Fatalf("got %q; want %q", line, want)
		}
		gap := time.Since(last)
		last = time.Now()
		worst = max(worst, gap)
		if i > 0 && gap > 2*time.Second {
			t.Fatalf("event %d came %v after the previous: held back", i, gap)
		}
		i++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("after %v and %d events: %v", time.Since(start), i, err)
	}
	if n := int(streamFor / streamEvery); i != n || time.Since(start) < streamFor-streamEvery {
		t.Fatalf("%d events in %v; want %d over %v", i, time.Since(start), n, streamFor)
	}
	t.Logf("%d events in order over %v, largest gap %v", i, time.Since(start).Round(time.Millisecond), worst.Round(time.Millisecond))
}
