package httpx_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bamhq/bam/internal/httpx"
)

// TestStackAllocations bounds what the middleware chain allocates per
// request on top of the handler, for a trace that is not sampled: the
// request's record, which is also its context (1), the request copy Stack
// hands on (1), the span and its context (2), and RequestID's request
// copy, context and boxed id (3) and response header (1) — 8 in all. The
// metric series, the tracer, the writer wrapper and the request id's span
// attribute (the span does not record) cost nothing per request.
// Counting allocations is deterministic: a new one fails this test.
func TestStackAllocations(t *testing.T) {
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "GET /v1/things/{id}" // as ServeMux sets it
		w.WriteHeader(http.StatusNoContent)
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := httpx.Stack("alloc-test", quiet, handler)
	req := httptest.NewRequest("GET", "/v1/things/1", nil)
	req.Header.Set(httpx.HeaderRequestID, "req-1") // a generated one adds its UUID
	w := httptest.NewRecorder()
	bare := testing.AllocsPerRun(1000, func() { handler.ServeHTTP(w, req) })
	stacked := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	if added := stacked - bare; added > 8 {
		t.Errorf("the stack allocates %v times per request; want at most 8", added)
	}
}
