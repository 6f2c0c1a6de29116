package httpx_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/telemetry"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name, incoming string
		accepted       bool
	}{
		{"absent", "", false},
		{"uuid", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true},
		{"safe charset", "edge.lb-01:abc_DEF", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "a b", false},
		{"markup", "<script>", false},
		{"newline", "a\nb", false},
		{"non-ascii", "idé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx string
			h := httpx.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = telemetry.RequestID(r.Context())
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tt.incoming != "" {
				req.Header[httpx.HeaderRequestID] = []string{tt.incoming}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			echoed := rec.Header().Get(httpx.HeaderRequestID)
			if echoed == "" || echoed != inCtx {
				t.Fatalf("echoed %q, in context %q", echoed, inCtx)
			}
			if tt.accepted && echoed != tt.incoming {
				t.Fatalf("valid id %q replaced by %q", tt.incoming, echoed)
			}
			if !tt.accepted {
				if u, err := uuid.Parse(echoed); err != nil || u.Version() != 7 {
					t.Fatalf("generated id %q is not a UUIDv7", echoed)
				}
			}
		})
	}
}

func TestRecover(t *testing.T) {
	logger, logs := newLogger()
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=leak")
		panic("kaboom")
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic("late kaboom")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	h := httpx.Stack("recover-test", logger, mux)

	rec := scenario{url: "/boom", headers: map[string]string{httpx.HeaderRequestID: "req-boom"},
		wantStatus: 500, wantType: httpx.ContentTypeProblem,
		wantBody: []string{`"requestId":"req-boom"`, `"status":500`}, notWantBody: []string{"kaboom"}}.run(t, h)
	if rec.Header().Get("Set-Cookie") != "" || rec.Header().Get(httpx.HeaderRequestID) != "req-boom" {
		t.Errorf("headers after panic: %v", rec.Header())
	}
	l := logs.String()
	for _, want := range []string{`"panic":"kaboom"`, `"request_id":"req-boom"`, "middleware_test.go", `"route":"/boom"`, `"status":500`} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s: %s", want, l)
		}
	}

	for _, path := range []string{"/late", "/abort"} {
		func() {
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v, want http.ErrAbortHandler so net/http aborts the response", path, p)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		}()
	}
	if strings.Count(logs.String(), "panic serving request") != 2 {
		t.Errorf("want exactly /boom and /late logged as panics: %s", logs)
	}
}

func TestMetricsUseRoutePattern(t *testing.T) {
	logger, logs := newLogger()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// The collectors are global: a fresh service label keeps -count=N honest.
	service := fmt.Sprintf("metrics-test-%d", time.Now().UnixNano())
	h := httpx.Stack(service, logger, mux)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/v1/things/123", nil),
		httptest.NewRequest("GET", "/v1/things/456", nil),
		httptest.NewRequest("GET", "/secret-path-789", nil),
		httptest.NewRequest("BREW", "/v1/things/1", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	counts := map[string]float64{}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			labels := labelMap(m)
			if labels["service"] != service {
				continue
			}
			for k, v := range labels {
				if k == "service" {
					continue // the test's own label, digits of a clock
				}
				if strings.Contains(v, "123") || strings.Contains(v, "456") || strings.Contains(v, "789") {
					t.Errorf("%s has a raw path in its labels: %v", fam.GetName(), labels)
				}
			}
			if fam.GetName() == "bam_http_requests_total" {
				counts[labels["route"]+" "+labels["method"]+" "+labels["status"]] = m.GetCounter().GetValue()
			}
			if fam.GetName() == "bam_http_requests_in_flight" && m.GetGauge().GetValue() != 0 {
				t.Errorf("in flight = %v after all requests ended", m.GetGauge().GetValue())
			}
		}
	}
	want := map[string]float64{
		"GET /v1/things/{id} GET 204": 2,
		"unmatched GET 404":           1,
		"unmatched OTHER 405":         1,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("requests_total{%s} = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if !strings.Contains(logs.String(), `"route":"GET /v1/things/{id}","path":"/v1/things/123","status":204`) {
		t.Errorf("access log lacks the route and path: %s", logs)
	}
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestStackKeepsFlusherAndHijacker proves SSE and WebSocket-style upgrades
// pass through the middleware chain, over a real connection.
func TestStackKeepsFlusherAndHijacker(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: first\n\n"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-release
		_, _ = w.Write([]byte("data: second\n\n"))
	})
	mux.HandleFunc("GET /upgrade", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
	})
	logger, _ := newLogger()
	srv := httptest.NewServer(httpx.Stack("flush-test", logger, mux))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v: the flush did not reach the client", line, err)
	}
	close(release)

	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/upgrade", nil)
	resp2, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade status = %d", resp2.StatusCode)
	}
}
