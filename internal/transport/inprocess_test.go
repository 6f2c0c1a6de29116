package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/transport"
)

// What only the in-process transport can show: how a mid-stream panic
// surfaces, and that context values do not cross, as over a network.
func TestInProcessMidStreamPanic(t *testing.T) {
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(p)
		})
		resp, err := (&http.Client{Transport: transport.InProcess(h)}).Get("http://svc/")
		if err != nil {
			t.Fatalf("%v: headers should have arrived: %v", p, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "partial" || !errors.Is(err, transport.ErrAborted) {
			t.Fatalf("%v: read %q, %v; want the partial body then ErrAborted", p, b, err)
		}
	}
}

type ctxKey struct{}

func TestInProcessContextCarriesOnlyCancellation(t *testing.T) {
	var sawValue, sawDeadline bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawValue = r.Context().Value(ctxKey{}) != nil
		_, sawDeadline = r.Context().Deadline()
		if _, err := w.Write([]byte(strings.Repeat("x", 10))); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "gateway-only"), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc/", nil)
	resp, err := transport.InProcess(h).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sawValue || sawDeadline {
		t.Fatalf("handler saw the caller's value=%v deadline=%v", sawValue, sawDeadline)
	}
}

func TestInProcessStatusRules(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		wantStatus int
		wantLen    int64
	}{
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
		{"no body for 204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("Write on 204 = %v", err)
			}
		}, 204, 0},
		{"interim status skipped", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, 0},
		{"unknown status text", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(499) }, 499, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://svc/", nil)
			resp, err := transport.InProcess(tt.h).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.ContentLength != tt.wantLen {
				t.Fatalf("got %q len %d", resp.Status, resp.ContentLength)
			}
			if resp.StatusCode == 499 && resp.Status != "499 status code 499" {
				t.Fatalf("Status = %q", resp.Status)
			}
		})
	}
}
