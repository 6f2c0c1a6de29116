package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traceRecorder installs, for one test, an SDK tracer provider that samples
// by the parent's decision and records every ended span.
func traceRecorder(t *testing.T) *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
	return rec
}

// TestTraceSpans: a request through the gateway continues the caller's
// trace with a server span named by its route, the upstream call is a
// client span under it, and the upstream receives that client span as
// its parent in traceparent, with the request id. A trace the caller did
// not sample records nothing, yet still reaches the upstream.
func TestTraceSpans(t *testing.T) {
	rec := traceRecorder(t)
	type seen struct{ traceparent, requestID string }
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Traceparent"), r.Header.Get("X-Request-Id")}
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /v1/things/, upstream: %s, auth: none}\n", up.URL))

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	call := func(flags string) seen {
		t.Helper()
		resp, _ := do(t, "GET", srv.URL+"/v1/things/42", map[string]string{
			"Traceparent": "00-" + traceID + "-" + callerSpan + "-" + flags, "X-Request-Id": "req-trace-1"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return <-got
	}

	s := call("01")
	var server, client sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID().String() != traceID {
			continue
		}
		switch sp.SpanKind() {
		case trace.SpanKindServer:
			server = sp
		case trace.SpanKindClient:
			client = sp
		}
	}
	if server == nil || client == nil {
		t.Fatalf("spans of the trace: server %v, client %v; want both", server, client)
	}
	if server.Name() != "GET /v1/things/" || server.Parent().SpanID().String() != callerSpan || !server.Parent().IsRemote() {
		t.Errorf("server span %q under %v; want \"GET /v1/things/\" under the caller's %s",
			server.Name(), server.Parent().SpanID(), callerSpan)
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range server.Attributes() {
		attrs[a.Key] = a.Value
	}
	if attrs["http.route"].AsString() != "/v1/things/" || attrs["http.response.status_code"].AsInt64() != 200 ||
		attrs["http.request.method"].AsString() != "GET" || attrs["bam.request_id"].AsString() != "req-trace-1" {
		t.Errorf("server span attributes %v", server.Attributes())
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("client span's parent %v; want the server span %v", client.Parent().SpanID(), server.SpanContext().SpanID())
	}
	want := "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01"
	if s.traceparent != want || s.requestID != "req-trace-1" {
		t.Errorf("upstream saw traceparent %q, request id %q; want %q, req-trace-1", s.traceparent, s.requestID, want)
	}

	before := len(rec.Ended())
	s = call("00")
	if n := len(rec.Ended()) - before; n != 0 {
		t.Errorf("an unsampled trace recorded %d spans", n)
	}
	if len(s.traceparent) != len(want) || s.traceparent[:36] != want[:36] || s.traceparent[52:] != "-00" {
		t.Errorf("upstream saw traceparent %q for the unsampled trace; want %s's trace, not sampled", s.traceparent, traceID)
	}
}
