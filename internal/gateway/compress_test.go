package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"
)

// rawClient sends Accept-Encoding itself, so its transport leaves bodies
// compressed as they came.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func getEncoded(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// decode reverses a Content-Encoding; the test fails when it does not
// decode completely.
func decode(t *testing.T, encoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch encoding {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case "br":
		r = brotli.NewReader(r)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body does not decode: %v", encoding, err)
	}
	return plain
}

func TestCompression(t *testing.T) {
	items := make([]map[string]any, 200)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": fmt.Sprintf("item %d", i), "tags": []string{"a", "b"}}
	}
	bigJSON, _ := json.Marshal(items)
	var pregz bytes.Buffer
	zw := gzip.NewWriter(&pregz)
	_, _ = zw.Write(bigJSON)
	_ = zw.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/c/big":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"v1"`)
			_, _ = w.Write(bigJSON)
		case "/c/small":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/c/pregz": // the upstream compressed it already
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(pregz.Bytes())
		case "/c/notransform": // RFC 9111 §5.2.2.6: intermediaries must not change the body
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("Cache-Control", "private")
			w.Header().Add("Cache-Control", "max-age=60, No-Transform")
			_, _ = w.Write(bigJSON)
		case "/c/png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(bytes.Repeat([]byte{0}, 4096))
		}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /c/, upstream: %s, auth: none}\n", up.URL))

	// The client's q-values pick the encoding; ties go zstd, br, gzip.
	for _, tt := range []struct{ accept, want string }{
		{"gzip", "gzip"},
		{"br", "br"},
		{"gzip, deflate, br", "br"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"zstd;q=0.5, br, gzip", "br"},
		{"gzip;q=1, br;q=0.5", "gzip"},
		{"zstd, br;q=0.9", "zstd"},
		{"br;q=0, gzip;q=0.1", "gzip"},
		{"zstd;q=0.2, br;q=0.3, gzip;q=0.1", "br"},
	} {
		t.Run("Accept-Encoding "+tt.accept, func(t *testing.T) {
			resp, body := getEncoded(t, srv.URL+"/c/big", tt.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding = %q; want %q", got, tt.want)
			}
			if got := resp.Header.Values("Vary"); strings.Count(strings.Join(got, ","), "Accept-Encoding") != 1 {
				t.Errorf("Vary = %q; want Accept-Encoding once", got)
			}
			if got := resp.Header.Get("ETag"); tt.want == "br" && got != `W/"v1"` {
				t.Errorf("ETag = %q; want the upstream's made weak", got)
			}
			if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
				t.Errorf("Content-Length %q kept on an encoded body", resp.Header.Get("Content-Length"))
			}
			if len(body) >= len(bigJSON)/2 {
				t.Errorf("compressed %d bytes to %d", len(bigJSON), len(body))
			}
			if plain := decode(t, tt.want, body); !bytes.Equal(plain, bigJSON) {
				t.Fatalf("decoded body differs")
			}
		})
	}
	for _, tt := range []struct{ name, path, accept, wantEncoding string }{
		{"no Accept-Encoding: plain", "/c/big", "", ""},
		{"only unknown codings: plain", "/c/big", "compress, identity", ""},
		{"below the minimum size: plain", "/c/small", "gzip", ""},
		{"below the minimum size, br: plain", "/c/small", "br", ""},
		{"incompressible type: plain", "/c/png", "gzip", ""},
		{"incompressible type, br: plain", "/c/png", "br", ""},
		{"Cache-Control: no-transform, gzip: plain", "/c/notransform", "gzip", ""},
		{"Cache-Control: no-transform, zstd: plain", "/c/notransform", "zstd", ""},
		{"Cache-Control: no-transform, br: plain", "/c/notransform", "br", ""},
		{"already compressed: passed through", "/c/pregz", "gzip", "gzip"},
		{"already compressed, br accepted: passed through", "/c/pregz", "br", "gzip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getEncoded(t, srv.URL+tt.path, tt.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("Content-Encoding = %q; want %q", got, tt.wantEncoding)
			}
			if tt.path == "/c/pregz" && !bytes.Equal(body, pregz.Bytes()) {
				t.Errorf("the upstream's gzip body was changed")
			}
			if (tt.path == "/c/big" || tt.path == "/c/notransform") && !bytes.Equal(body, bigJSON) {
				t.Errorf("plain body differs")
			}
			if v := resp.Header.Get("No-Gzip-Compression"); v != "" {
				t.Errorf("the compressor's internal header reached the client: %q", v)
			}
		})
	}
}

// TestCompressionLeavesSSEUnbuffered: each event reaches a client that
// accepts gzip while the upstream still holds the stream open.
func TestCompressionLeavesSSEUnbuffered(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "data: %d\n\n", i)
			_ = http.NewResponseController(w).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /events, upstream: %s, auth: none}\n", up.URL))
	req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
	req.Header.Set("Accept-Encoding", "gzip, zstd, br")
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("SSE compressed: Content-Encoding %q", ce)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				lines <- l
			}
		}
		close(lines)
	}()
	for i := range 3 {
		select {
		case l := <-lines:
			if want := fmt.Sprintf("data: %d", i); l != want {
				t.Fatalf("event %d = %q; want %q", i, l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d held back", i)
		}
		next <- struct{}{} // only now does the upstream send the next one
	}
}

// TestCompressionSendsStreamHeadAtOnce: an SSE stream whose first event
// comes later reaches a client that accepts gzip with its head at once
// (EventSource's open event), not with the first event.
func TestCompressionSendsStreamHeadAtOnce(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) })
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /events, upstream: %s, auth: none}\n", up.URL))
	for _, enc := range []string{"gzip", "zstd", "br", ""} {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := rawClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("Accept-Encoding %q: no head before the first event: %v", enc, err)
		}
		_ = resp.Body.Close()
		cancel()
	}
}

// TestVaryWithoutAcceptEncoding: responses to clients that do not accept
// compression still tell caches they depend on Accept-Encoding, next to
// the upstream's own Vary.
func TestVaryWithoutAcceptEncoding(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Cookie")
		_, _ = w.Write([]byte("x"))
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /v/, upstream: %s, auth: none}\n", up.URL))
	for range 2 { // the shared Vary value is not changed by the first
		resp, _ := getEncoded(t, srv.URL+"/v/x", "")
		if got := strings.Join(resp.Header.Values("Vary"), ","); got != "Accept-Encoding,Cookie" {
			t.Fatalf("Vary = %q", got)
		}
	}
}

// TestBrotliStreams: a long response of unknown length is compressed as it
// streams, not buffered whole: the client decodes the first part while the
// upstream still holds back the rest.
func TestBrotliStreams(t *testing.T) {
	part := bytes.Repeat([]byte(`{"id":1,"name":"a streamed item","tags":["x","y"]},`), 2000) // 100 KB
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for range 2 {
			_, _ = w.Write(part)
			_ = http.NewResponseController(w).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /s/, upstream: %s, auth: none}\n", up.URL))
	req, _ := http.NewRequest("GET", srv.URL+"/s/x", nil)
	req.Header.Set("Accept-Encoding", "br")
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "br" {
		t.Fatalf("Content-Encoding = %q; want br", ce)
	}
	wire := &countingReader{r: resp.Body}
	br := brotli.NewReader(wire)
	for i := range 2 {
		got := make([]byte, len(part))
		read := make(chan error, 1)
		go func() { _, err := io.ReadFull(br, got); read <- err }()
		select {
		case err := <-read:
			if err != nil || !bytes.Equal(got, part) {
				t.Fatalf("part %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("part %d held back: the compressed stream is buffered", i)
		}
		next <- struct{}{} // only now does the upstream send the next part (or end)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the last part: %d bytes, %v", len(rest), err)
	}
	t.Logf("%d bytes streamed as %d", 2*len(part), wire.n)
	if wire.n > len(part) {
		t.Errorf("%d bytes on the wire for %d of body: not compressed", wire.n, 2*len(part))
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestCompressionSkipsUpgrades: a WebSocket handshake from a client that
// accepts br and gzip is passed through untouched and the socket works.
func TestCompressionSkipsUpgrades(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err == nil {
			_ = c.Write(r.Context(), typ, msg)
		}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /ws, upstream: %s, auth: none}\n", up.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Accept-Encoding": {"br, gzip"}}})
	if err != nil {
		t.Fatalf("dial through the gateway: %v", err)
	}
	defer c.CloseNow()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("101 response with Content-Encoding %q", ce)
	}
	payload := strings.Repeat("echo ", 1000)
	if err := c.Write(ctx, websocket.MessageText, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != payload {
		t.Fatalf("echo: %d bytes, %v", len(msg), err)
	}
}
