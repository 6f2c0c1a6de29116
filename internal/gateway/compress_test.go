package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
			_, _ = w.Write(bigJSON)
		case "/c/small":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/c/pregz": // the upstream compressed it already
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(pregz.Bytes())
		case "/c/png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(bytes.Repeat([]byte{0}, 4096))
		}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /c/, upstream: %s, auth: none}\n", up.URL))

	t.Run("json is gzipped and decodes back", func(t *testing.T) {
		resp, body := getEncoded(t, srv.URL+"/c/big", "gzip")
		if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
			t.Fatalf("Content-Encoding = %q; want gzip", got)
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
			t.Errorf("Vary = %q; want Accept-Encoding", resp.Header.Values("Vary"))
		}
		if len(body) >= len(bigJSON)/2 {
			t.Errorf("compressed %d bytes to %d", len(bigJSON), len(body))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, bigJSON) {
			t.Fatalf("decoded body differs (err %v)", err)
		}
	})
	for _, tt := range []struct{ name, path, accept, wantEncoding string }{
		{"no Accept-Encoding: plain", "/c/big", "", ""},
		{"below the minimum size: plain", "/c/small", "gzip", ""},
		{"incompressible type: plain", "/c/png", "gzip", ""},
		{"already compressed: passed through", "/c/pregz", "gzip", "gzip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getEncoded(t, srv.URL+tt.path, tt.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("Content-Encoding = %q; want %q", got, tt.wantEncoding)
			}
			if tt.path == "/c/pregz" && !bytes.Equal(body, pregz.Bytes()) {
				t.Errorf("the upstream's gzip body was changed")
			}
			if tt.path == "/c/big" && !bytes.Equal(body, bigJSON) {
				t.Errorf("plain body differs")
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
	req.Header.Set("Accept-Encoding", "gzip, zstd")
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
