package transport_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkRoundTrip compares a small JSON call in-process with the same
// call over loopback HTTP.
func BenchmarkRoundTrip(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "0190a1b2-c3d4", "name": "widget", "qty": 3})
	})
	for _, tr := range []struct {
		name string
		rt   func(testing.TB) http.RoundTripper
	}{
		{"in-process", func(tb testing.TB) http.RoundTripper { return transports[0].new(tb, h) }},
		{"loopback-http", func(tb testing.TB) http.RoundTripper { return transports[1].new(tb, h) }},
	} {
		b.Run(tr.name, func(b *testing.B) {
			c := &http.Client{Transport: tr.rt(b)}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get("http://svc/thing")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
