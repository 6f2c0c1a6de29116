package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bamhq/bam/internal/transport"
)

func TestMain(m *testing.M) {
	// Handler panics are logged by design; keep test output readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	goleak.VerifyTestMain(m)
}

// service is the handler every scenario talks to, with channels that let a
// test observe and steer it.
type service struct {
	release chan struct{} // lets /stream finish
	started chan struct{} // /wait and /flood are running
	stopped chan error    // /wait and /flood returned, with why
}

func newService() *service {
	return &service{release: make(chan struct{}), started: make(chan struct{}, 1), stopped: make(chan error, 1)}
}

func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Test", "yes")
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"requestURI": r.RequestURI, "host": r.Host, "remoteAddr": r.RemoteAddr, "proto": r.Proto,
			"urlHost": r.URL.Host, "query": r.URL.Query().Get("q"), "header": r.Header.Get("X-In"),
		})
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /sniff", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	})
	mux.HandleFunc("GET /late-header", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Late", "1")
		_, _ = io.WriteString(w, "made")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "first\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		s.started <- struct{}{}
		<-r.Context().Done()
		s.stopped <- r.Context().Err()
	})
	mux.HandleFunc("GET /flood", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		s.started <- struct{}{}
		for {
			if _, err := w.Write(chunk); err != nil {
				s.stopped <- err
				return
			}
			if err := r.Context().Err(); err != nil {
				s.stopped <- err
				return
			}
		}
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("GET /ws", s.websocketEcho)
	mux.HandleFunc("GET /raw-upgrade", s.rawUpgrade)
	mux.HandleFunc("GET /hijack-silent", s.hijackSilent)
	return mux
}

// transports builds each transport under test around a handler.
var transports = []struct {
	name string
	new  func(t testing.TB, h http.Handler) http.RoundTripper
}{
	{"in-process", func(t testing.TB, h http.Handler) http.RoundTripper { return transport.InProcess(h) }},
	{"replicas", func(t testing.TB, h http.Handler) http.RoundTripper {
		return replicasOf(t, startServer(t, h).URL)
	}},
}

func startServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func replicasOf(t testing.TB, urls ...string) *transport.Replicas {
	r, err := transport.NewReplicas(urls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.CloseIdleConnections)
	return r
}

func get(t *testing.T, c *http.Client, ctx context.Context, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc"+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
