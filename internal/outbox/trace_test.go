package outbox_test

import (
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTraceContinuesThroughOutbox: request span → publish span (by the relay,
// later, in another goroutine) → process span (in the consumer).
func TestTraceContinuesThroughOutbox(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) }()

	b := bustest.Open(t, bustest.Embedded)
	db := storetest.Open(t, store.SQLite, sets...)
	svc := bustest.Service(t, b)
	applied := make(chan string, 1)
	consume(t, b, db, svc, func(id string) { applied <- id })
	o := newOutbox(t, db, b, outbox.Options{})
	startOutbox(t, o)

	ctx, req := otel.Tracer("test").Start(ctxT(t), "request")
	ev := newEvent(t, svc, 1)
	if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	req.End()
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("event not applied")
	}

	var pub, proc sdktrace.ReadOnlySpan
	testenv.WaitFor(t, 20*time.Second, "the process span", func() bool {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "publish " + ev.Type():
				pub = s
			case "process " + ev.Type():
				proc = s
			}
		}
		return pub != nil && proc != nil
	})
	if pub.Parent().SpanID() != req.SpanContext().SpanID() {
		t.Errorf("publish span's parent %v, want the request span %v", pub.Parent().SpanID(), req.SpanContext().SpanID())
	}
	if proc.Parent().SpanID() != pub.SpanContext().SpanID() || proc.SpanContext().TraceID() != req.SpanContext().TraceID() {
		t.Errorf("process span (parent %v, trace %v) is not the publish span's child in the request's trace", proc.Parent().SpanID(), proc.SpanContext().TraceID())
	}
}
