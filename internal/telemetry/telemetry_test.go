package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/bamhq/bam/internal/telemetry"
)

func TestLoggerCarriesTraceAndRequestID(t *testing.T) {
	shutdown, err := telemetry.SetupTracing(t.Context(), telemetry.TraceOptions{ServiceName: "test", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())

	var buf bytes.Buffer
	log, err := telemetry.NewLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := otel.Tracer("test").Start(t.Context(), "op")
	ctx = telemetry.WithRequestID(ctx, "req-1")
	log.InfoContext(ctx, "hello")
	span.End()

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if line["request_id"] != "req-1" || line["trace_id"] != span.SpanContext().TraceID().String() {
		t.Errorf("log line = %v", line)
	}
	// No exporter: a new trace has ids to log and pass on, but records nothing.
	if !span.SpanContext().IsValid() || span.IsRecording() || span.SpanContext().IsSampled() {
		t.Errorf("without an endpoint: valid %v, recording %v, sampled %v; want true, false, false",
			span.SpanContext().IsValid(), span.IsRecording(), span.SpanContext().IsSampled())
	}
	// A caller's sampled trace stays sampled for the services further on.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
		TraceFlags: trace.FlagsSampled, Remote: true})
	_, child := otel.Tracer("test").Start(trace.ContextWithRemoteSpanContext(t.Context(), parent), "child")
	defer child.End()
	if !child.SpanContext().IsSampled() {
		t.Error("without an endpoint, a sampled caller's trace went on as not sampled")
	}
}

func TestLoggerRejectsBadSettings(t *testing.T) {
	if _, err := telemetry.NewLogger(&bytes.Buffer{}, "xml", "info"); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := telemetry.NewLogger(&bytes.Buffer{}, "text", "loud"); err == nil {
		t.Error("level loud accepted")
	}
}

// TestOTLPExport sends spans to a real HTTP endpoint standing in for a
// collector and checks that they arrive on shutdown.
func TestOTLPExport(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	shutdown, err := telemetry.SetupTracing(t.Context(), telemetry.TraceOptions{
		ServiceName: "test", Endpoint: collector.URL, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "exported")
	if !span.IsRecording() {
		t.Error("with an endpoint and sample_ratio 1, a new trace's span does not record")
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("no spans reached the OTLP endpoint")
	}
}
