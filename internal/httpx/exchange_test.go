package httpx_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/httpx"
)

// TestStackWriterInterfaces: the writer handlers get through Stack claims
// Hijacker only when the server's writer has it (an HTTP/2 writer, like
// the recorder here, does not), and passes Flush and ReadFrom on.
func TestStackWriterInterfaces(t *testing.T) {
	var hijacker, flusher, readerFrom bool
	h := httpx.Stack("writer-test", slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, hijacker = w.(http.Hijacker)
		var f http.Flusher
		f, flusher = w.(http.Flusher)
		var rf io.ReaderFrom
		rf, readerFrom = w.(io.ReaderFrom)
		if readerFrom {
			_, _ = rf.ReadFrom(strings.NewReader("body"))
		}
		if flusher {
			f.Flush()
		}
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if hijacker || !flusher || !readerFrom {
		t.Errorf("over a recorder: Hijacker %v, Flusher %v, ReaderFrom %v; want false, true, true", hijacker, flusher, readerFrom)
	}
	if !rec.Flushed || rec.Body.String() != "body" || rec.Code != http.StatusOK {
		t.Errorf("recorder got flushed %v, body %q, status %d", rec.Flushed, rec.Body, rec.Code)
	}

	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !hijacker || !flusher || !readerFrom {
		t.Errorf("over HTTP/1.1: Hijacker %v, Flusher %v, ReaderFrom %v; want all", hijacker, flusher, readerFrom)
	}
}
