package ratelimit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/ratelimit"
)

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    ratelimit.Decision
		want map[string]string // "" means absent
	}{
		{"allowed", ratelimit.Decision{Allowed: true, Limit: 40, Remaining: 39, Reset: 50 * ms}, map[string]string{
			"RateLimit-Limit": "40", "RateLimit-Remaining": "39", "RateLimit-Reset": "1", "Retry-After": "",
		}},
		{"full bucket", ratelimit.Decision{Allowed: true, Limit: 5, Remaining: 5}, map[string]string{
			"RateLimit-Reset": "0", "Retry-After": "",
		}},
		{"denied", ratelimit.Decision{Limit: 40, Reset: 2*time.Second + ms, RetryAfter: 1500 * ms}, map[string]string{
			"RateLimit-Limit": "40", "RateLimit-Remaining": "0", "RateLimit-Reset": "3", "Retry-After": "2",
		}},
		{"denied, retry very soon", ratelimit.Decision{Limit: 1, Reset: 10 * ms, RetryAfter: 10 * ms}, map[string]string{
			"Retry-After": "1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ratelimit.SetHeaders(w, tt.d)
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDeny(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/orders/1", nil)
	ratelimit.Deny(w, r, ratelimit.Decision{Limit: 20, Reset: 3 * time.Second, RetryAfter: 2500 * ms})

	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	if w.Header().Get("Retry-After") != "3" || w.Header().Get("RateLimit-Limit") != "20" {
		t.Errorf("headers %v", w.Header())
	}
	var p struct {
		Type, Code, Detail string
		Status             int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Code != "gateway.rate_limited" || p.Status != 429 || p.Type != "https://bam.dev/problems/gateway.rate_limited" || p.Detail == "" {
		t.Errorf("problem %+v", p)
	}
}

// TestSetHeadersOneAllocation: the header values cost one allocation
// whatever their size, and each value is its own (a later Add or Set on
// one leaves the others alone).
func TestSetHeadersOneAllocation(t *testing.T) {
	w := httptest.NewRecorder()
	d := ratelimit.Decision{Limit: 1_000_000_000, Remaining: 999_999_998, Reset: 90 * time.Second, RetryAfter: 3 * time.Second}
	allocs := testing.AllocsPerRun(100, func() {
		clear(w.Header())
		ratelimit.SetHeaders(w, d)
	})
	if allocs > 1 {
		t.Errorf("%.0f allocations, want 1", allocs)
	}
	h := w.Header()
	h.Add("RateLimit-Limit", "7")
	want := map[string][]string{"RateLimit-Limit": {"1000000000", "7"}, "RateLimit-Remaining": {"999999998"},
		"RateLimit-Reset": {"90"}, "Retry-After": {"3"}}
	for k, v := range want {
		if got := h.Values(k); !slices.Equal(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
