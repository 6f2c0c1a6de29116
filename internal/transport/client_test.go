package transport_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bamhq/bam/internal/telemetry"
	"github.com/bamhq/bam/internal/transport"
)

// TestClientPropagates checks that trace context and request id reach the
// callee through both transports, and that the call gets a client span.
func TestClientPropagates(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	seen := func(w http.ResponseWriter, r *http.Request) {
		sc := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		_ = json.NewEncoder(w).Encode(map[string]string{"trace": sc.TraceID().String(), "rid": r.Header.Get("X-Request-Id")})
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c := transport.Client(tr.new(t, http.HandlerFunc(seen)))
			ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
			ctx = telemetry.WithRequestID(ctx, "req-7")
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc/x", nil)
			resp, err := c.Do(req)
			span.End()
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close() // ends the client span
			if err != nil {
				t.Fatal(err)
			}
			if got["trace"] != span.SpanContext().TraceID().String() || got["rid"] != "req-7" {
				t.Errorf("callee saw %v; want trace %s and request id req-7", got, span.SpanContext().TraceID())
			}
			clientSpans := 0
			for _, s := range rec.Ended() {
				if s.SpanKind() == trace.SpanKindClient && s.Parent().SpanID() == span.SpanContext().SpanID() {
					clientSpans++
				}
			}
			if clientSpans != 1 {
				t.Errorf("client spans under the caller = %d, want 1", clientSpans)
			}
		})
	}
}
