package upstream_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// BenchmarkRoundTrip compares a small JSON call through a Pool (one
// replica: the pool's own work, without balancing noise; and three, the
// same server under three names) with the same call through a bare
// http.Transport to the same server, with and without the response header
// timeout a Pool sets (net/http pays a timer for it).
func BenchmarkRoundTrip(b *testing.B) {
	body := `{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","name":"widget","qty":3,"tags":["a","b","c"],"price":{"amount":1999,"currency":"EUR"},"created":"2026-01-02T03:04:05Z","note":"two hundred bytes of json"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	three := []string{srv.URL, "http://localhost" + port, "http://127.0.0.1" + port + "/"}

	pool := func(b *testing.B, targets []string) http.RoundTripper {
		p, err := upstream.New(upstream.Options{Name: b.Name(), Targets: targets, HealthInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close() })
		return p
	}
	for _, tc := range []struct {
		name string
		url  string
		rt   func(b *testing.B) http.RoundTripper
	}{
		{"bare-transport", srv.URL + "/thing", func(*testing.B) http.RoundTripper { return upstream.NewTransport() }},
		{"bare-transport-header-timeout", srv.URL + "/thing", func(*testing.B) http.RoundTripper {
			tr := upstream.NewTransport()
			tr.ResponseHeaderTimeout = 10 * time.Second // what a Pool sets from Options.Timeout
			return tr
		}},
		{"pool-1", "http://svc/thing", func(b *testing.B) http.RoundTripper { return pool(b, []string{srv.URL}) }},
		{"pool-3", "http://svc/thing", func(b *testing.B) http.RoundTripper { return pool(b, three) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rt := tc.rt(b)
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		})
	}
}
