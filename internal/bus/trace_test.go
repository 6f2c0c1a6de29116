package bus_test

import (
	"testing"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// useRecorder installs a recording tracer provider and the W3C propagator as
// the globals for the test.
func useRecorder(t *testing.T) *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() {
		_ = tp.Shutdown(t.Context())
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	return rec
}

func TestTracePropagates(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		rec := useRecorder(t)
		ctx := ctxT(t)
		svc := bustest.Service(t, b)

		ctx, req := otel.Tracer("test").Start(ctx, "request")
		ev := newEvent(t, svc, "u1")
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		req.End()

		m := next(t, orderedConsumer(t, b, svc))
		if m.Headers().Get("traceparent") == "" {
			t.Fatalf("no traceparent header in %v", m.Headers())
		}
		_, span := bus.StartProcessSpan(t.Context(), m.Subject(), m.Headers())
		span.End()

		spans := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			spans[s.Name()] = s
		}
		pub, proc := spans["publish "+ev.Type()], spans["process "+ev.Type()]
		if pub == nil || proc == nil {
			t.Fatalf("spans %v: want publish and process spans", rec.Ended())
		}
		if pub.Parent().SpanID() != req.SpanContext().SpanID() {
			t.Errorf("publish span's parent %v, want the request span %v", pub.Parent().SpanID(), req.SpanContext().SpanID())
		}
		if proc.Parent().SpanID() != pub.SpanContext().SpanID() || proc.SpanContext().TraceID() != req.SpanContext().TraceID() {
			t.Errorf("process span's parent %v, want the publish span %v", proc.Parent().SpanID(), pub.SpanContext().SpanID())
		}
		if pub.SpanKind() != trace.SpanKindProducer || proc.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("span kinds %v, %v", pub.SpanKind(), proc.SpanKind())
		}
	})
}

// A message whose trace is not sampled keeps its trace context as it is:
// no publish span is started, whose id would lead nowhere.
func TestUnsampledTraceGetsNoPublishSpan(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		rec := useRecorder(t)
		svc := bustest.Service(t, b)
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}})
		ctx := trace.ContextWithRemoteSpanContext(ctxT(t), parent) // not sampled
		if err := b.Publish(ctx, newEvent(t, svc, "u1")); err != nil {
			t.Fatal(err)
		}
		m := next(t, orderedConsumer(t, b, svc))
		if got, want := m.Headers().Get("traceparent"), "00-01000000000000000000000000000000-0200000000000000-00"; got != want {
			t.Errorf("traceparent %q, want the publisher's own %q", got, want)
		}
		if n := len(rec.Ended()); n != 0 {
			t.Errorf("%d spans recorded, want none", n)
		}
	})
}
