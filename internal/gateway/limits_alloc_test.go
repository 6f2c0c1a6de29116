package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bamhq/bam/internal/ratelimit"
)

// headerOnly is a ResponseWriter that keeps only its header map, cleared
// and reused between requests, so that what is counted is the limiter's.
type headerOnly http.Header

func (w headerOnly) Header() http.Header       { return http.Header(w) }
func (headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (headerOnly) WriteHeader(int)             {}

// TestLimitAllocations counts the allocations of an allowed request
// through the rate limit stage, a per-route limit (its key fixed per
// route) and a per-IP one (its key built per request), with the RateLimit
// headers set: the IP key and the header values are all it may allocate.
func TestLimitAllocations(t *testing.T) {
	big := ratelimit.Limit{Rate: 1e9, Burst: 1e9}
	g := &Gateway{opts: Options{Log: slog.New(slog.DiscardHandler), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})}}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name string
		def  Limit
		max  float64
	}{
		{"per route", Limit{Per: PerRoute, Limit: big}, 1}, // the header values
		{"per ip", Limit{Per: PerIP, Limit: big}, 2},       // and the key
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := limit(g.limitStage(Route{Prefix: "/v1/things/"}, tc.def, true), nil, next)
			w := headerOnly{}
			req := httptest.NewRequest(http.MethodGet, "http://api.test/v1/things/1", nil)
			req.RemoteAddr = "203.0.113.7:40000"
			allocs := testing.AllocsPerRun(200, func() {
				clear(w)
				h.ServeHTTP(w, req)
			})
			if w[ratelimit.HeaderRemaining] == nil {
				t.Fatalf("no RateLimit headers: %v", w)
			}
			if allocs > tc.max {
				t.Errorf("%.0f allocations per request, want at most %.0f", allocs, tc.max)
			}
		})
	}
}
