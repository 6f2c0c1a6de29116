package bus

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/bamhq/bam/internal/bus"

// headerCarrier lets the otel propagator read and write NATS headers. NATS
// header keys are case-sensitive, so keys are used exactly as the propagator
// gives them (traceparent, tracestate).
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c headerCarrier) Set(key, val string)   { nats.Header(c).Set(key, val) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

var _ propagation.TextMapCarrier = headerCarrier(nil)

// InjectTrace writes the trace context of ctx into h with the global
// propagator.
func InjectTrace(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier(h))
}

// ExtractTrace returns ctx carrying the remote trace context found in h, or
// ctx unchanged when h carries none.
func ExtractTrace(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier(h))
}

// StartProcessSpan starts the consumer span "process <subject>" as a child
// of the publisher's span found in h. The caller ends the span.
func StartProcessSpan(ctx context.Context, subject string, h nats.Header, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx = ExtractTrace(ctx, h)
	attrs = append(attrs,
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", subject),
		attribute.String("messaging.message.id", h.Get(nats.MsgIdHdr)),
	)
	return otel.Tracer(tracerName).Start(ctx, "process "+subject,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// startPublishSpan starts the producer span "publish <subject>" as a child of
// the trace context in h (captured when the event was created, possibly in
// another goroutine or process run: the outbox) or else of ctx, and writes
// the new span's context back into h. Under a trace context in h that is
// not sampled it starts none (the samplers follow the parent: it would
// record nothing) and leaves h as it is, so the message stays in its
// trace; the span returned then is that context's, which records nothing.
func startPublishSpan(ctx context.Context, m Message) (context.Context, trace.Span) {
	ctx = ExtractTrace(ctx, m.Header)
	if m.Header.Get("traceparent") != "" {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
			return ctx, trace.SpanFromContext(ctx)
		}
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "publish "+m.Subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.message.id", m.ID),
		))
	InjectTrace(ctx, m.Header)
	return ctx, span
}
