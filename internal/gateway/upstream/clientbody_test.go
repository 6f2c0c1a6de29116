package upstream_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// failingBody yields some bytes, then the error a client-side body gives.
type failingBody struct {
	n   int
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		k := min(len(p), b.n)
		for i := range k {
			p[i] = 'x'
		}
		b.n -= k
		return k, nil
	}
	return 0, b.err
}

func (b *failingBody) Close() error { return nil }

// A body that fails on the client's side (too large, or the client went
// away mid-upload) must not count against the replica or the breaker.
func TestClientBodyErrorsDoNotEjectReplica(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"too large", &http.MaxBytesError{Limit: 1024}},
		{"client dropped", io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplica(t, func(w http.ResponseWriter, req *http.Request) {
				_, _ = io.Copy(io.Discard, req.Body)
				ok(w, req)
			})
			p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1})
			for range 6 {
				req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "http://svc/upload", nil)
				req.Body = &failingBody{n: 2048, err: tc.err}
				req.ContentLength = -1
				req.RequestURI = ""
				resp, err := p.RoundTrip(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					continue
				}
				if errors.Is(err, upstream.ErrCircuitOpen) {
					t.Fatalf("client body errors opened the breaker: %v", err)
				}
			}
			st := p.Stats()
			if st.Breaker != upstream.Closed || st.Targets[0].Ejected != 0 {
				t.Fatalf("after client body errors: breaker %v, replica ejected for %v; want closed and admitted",
					st.Breaker, st.Targets[0].Ejected)
			}
			if code, err := get(t.Context(), p); err != nil || code != 200 {
				t.Fatalf("GET after client body errors = %d, %v; want 200", code, err)
			}
		})
	}
}
