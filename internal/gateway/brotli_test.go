package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestWantsBrotli(t *testing.T) {
	for _, tt := range []struct {
		accept []string
		want   bool
	}{
		{[]string{"br"}, true},
		{[]string{"gzip, deflate, br"}, true},        // br over gzip on a tie
		{[]string{"gzip, deflate, br, zstd"}, false}, // zstd over br on a tie
		{[]string{"gzip, deflate, br, zstd;q=0.9"}, true},
		{[]string{"gzip, br"}, true},
		{[]string{"BR"}, true},
		{[]string{" br ; q=0.5 "}, true},
		{[]string{"gzip;q=0.5, br;q=0.8"}, true},
		{[]string{"br;q=0.001"}, true},
		{[]string{"br;Q=1"}, true},
		{[]string{"br;q=2"}, true},     // clamped to 1
		{[]string{"gzip", "br"}, true}, // several header lines
		{[]string{"gzip;q=0.9", "br;level=3;q=0.9"}, true},
		{[]string{"br;q=0.5, gzip"}, false},
		{[]string{"br;q=0.5, zstd;q=0.6"}, false},
		{[]string{"zstd, br"}, false},
		{[]string{"br;q=0, gzip"}, false},
		{[]string{"br;q=0"}, false},
		{[]string{"br;q=abc"}, false},
		{[]string{"br;q=NaN"}, false},
		{[]string{"br;q=-1"}, false},
		{[]string{"gzip"}, false},
		{[]string{"*"}, false},
		{[]string{"identity"}, false},
		{[]string{"brotli, xbr, br2"}, false},
		{[]string{""}, false},
		{nil, false},
	} {
		h := http.Header{"Accept-Encoding": tt.accept}
		if got := wantsBrotli(h); got != tt.want {
			t.Errorf("Accept-Encoding %q: wantsBrotli = %v, want %v", tt.accept, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		wantsBrotli(http.Header{"Accept-Encoding": {"gzip;q=0.8, deflate, br;q=0.9, zstd;q=0.7"}})
	}); n > 1 { // the header map literal itself
		t.Errorf("wantsBrotli allocates %v times", n)
	}
}

// FuzzWantsBrotli: any Accept-Encoding value is negotiated without a panic,
// and appending "br;q=0" never makes br wanted.
func FuzzWantsBrotli(f *testing.F) {
	for _, s := range []string{"br", "gzip, deflate, br, zstd", "br;q=0.5, gzip", "br;;;q=", ",,,", "br;q=1e400", "br;q=0x1p-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ae string) {
		wantsBrotli(http.Header{"Accept-Encoding": {ae}})
		if wantsBrotli(http.Header{"Accept-Encoding": {ae + ", br;q=0"}}) {
			t.Errorf("%q + br;q=0: br wanted", ae)
		}
	})
}

// brotliResponse runs h behind serveBrotli and returns the recorded
// response with its body decoded (when brotli-encoded).
func brotliResponse(t *testing.T, h http.HandlerFunc) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	serveBrotli(h, rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "br" {
		var err error
		if body, err = io.ReadAll(brotli.NewReader(bytes.NewReader(body))); err != nil {
			t.Fatalf("brotli body does not decode: %v", err)
		}
	}
	return rec, body
}

// TestBrotliWriterDecisions covers how handlers write, not only how the
// proxy does: the decision waits for the minimum size across small writes,
// sniffs a missing type, and a status without a body stays plain.
func TestBrotliWriterDecisions(t *testing.T) {
	text := strings.Repeat("the quick brown fox jumps over the lazy dog. ", 100) // 4.5 KB
	for _, tt := range []struct {
		name    string
		h       http.HandlerFunc
		wantEnc string
		wantCT  string
		want    string
	}{
		{"many small writes past the minimum", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < len(text); i += 100 {
				_, _ = io.WriteString(w, text[i:min(i+100, len(text))])
			}
		}, "br", "text/plain", text},
		{"no type: sniffed, then compressed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<html><body>"+text+"</body></html>")
		}, "br", "text/html; charset=utf-8", "<html><body>" + text + "</body></html>"},
		{"no type, binary: plain", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 4096)...))
		}, "", "image/png", "\x89PNG\r\n\x1a\n" + string(make([]byte, 4096))},
		{"small: plain", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"ok":true}`)
		}, "", "application/json", `{"ok":true}`},
		{"declared length above the minimum: decided at WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", fmt.Sprint(len(text)))
			_, _ = io.WriteString(w, text)
		}, "br", "text/plain", text},
		{"ranges: plain", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/9999", len(text)-1))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = io.WriteString(w, text)
		}, "", "text/plain", text},
		{"no content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, "", "", ""},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := brotliResponse(t, tt.h)
			if got := rec.Header().Get("Content-Encoding"); got != tt.wantEnc {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEnc)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantCT)
			}
			if string(body) != tt.want {
				t.Errorf("body: %d bytes, want %d", len(body), len(tt.want))
			}
			if tt.wantEnc == "br" && rec.Header().Get("Content-Length") != "" {
				t.Errorf("Content-Length %q kept on an encoded body", rec.Header().Get("Content-Length"))
			}
		})
	}
}

// TestBrotliWriterPanic: a handler that aborts (the proxy, when its
// upstream breaks off) leaves the brotli stream unterminated, so a client
// cannot take the truncated body for a whole one.
func TestBrotliWriterPanic(t *testing.T) {
	rec := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }()
		serveBrotli(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, strings.Repeat("partial body ", 200))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}), rec, httptest.NewRequest("GET", "/", nil))
	}()
	if rec.Header().Get("Content-Encoding") != "br" {
		t.Fatalf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
	}
	got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(rec.Body.Bytes())))
	if err == nil {
		t.Fatalf("an aborted brotli stream decoded cleanly (%d bytes)", len(got))
	}
	if !strings.HasPrefix(strings.Repeat("partial body ", 200), string(got)) || len(got) == 0 {
		t.Errorf("the flushed part did not decode: %d bytes", len(got))
	}
}

// BenchmarkCompress measures one JSON response through compress for a
// client that accepts nothing, gzip, zstd or br: time and allocations per
// response, and the encoded size; 7 KB (compressed) and 200 bytes (below
// the minimum size: the cost of deciding not to).
//
//	go test ./internal/gateway -run '^$' -bench Compress -benchmem
func BenchmarkCompress(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 100 {
		fmt.Fprintf(&sb, `{"id":%d,"name":"item %d","email":"user%d@example.com","tags":["a","b"]},`, i, i, i*7919%1000)
	}
	for _, body := range [][]byte{[]byte(strings.TrimSuffix(sb.String(), ",") + "]"), []byte(sb.String()[:200])} {
		b.Run(fmt.Sprintf("%dB", len(body)), func(b *testing.B) { benchCompress(b, body) })
	}
}

func benchCompress(b *testing.B, body []byte) {
	h := compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	for _, accept := range []string{"", "gzip", "zstd", "br"} {
		b.Run("accept="+accept, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/", nil)
			if accept != "" {
				req.Header.Set("Accept-Encoding", accept)
			}
			w := &countingWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n), "bytes/resp")
		})
	}
}

// countingWriter is a ResponseWriter that only counts the body.
type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
