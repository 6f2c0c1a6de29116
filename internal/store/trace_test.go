package store_test

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestTracing checks that queries in a sampled trace produce spans on the
// global tracer provider, tagged with the database system, and that
// queries in no trace produce none. It sets the global provider, so it is
// the only test in the package that looks at spans.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	want := map[store.Dialect]string{store.SQLite: "sqlite", store.Postgres: "postgresql"}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		before := len(rec.Ended())
		if _, err := db.SQL().ExecContext(t.Context(), "SELECT 41"); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.Ended()) - before; n != 0 {
			t.Errorf("a statement in no trace made %d spans, want none", n)
		}
		ctx, span := otel.Tracer("test").Start(t.Context(), "request")
		if _, err := db.SQL().ExecContext(ctx, "SELECT 42"); err != nil {
			t.Fatal(err)
		}
		span.End()
		for _, s := range rec.Ended()[before:] {
			if s.Parent().SpanID() != span.SpanContext().SpanID() {
				continue
			}
			for _, a := range s.Attributes() {
				if string(a.Key) == "db.system.name" && a.Value.AsString() == want[db.Dialect()] {
					return
				}
			}
		}
		t.Errorf("no span with db.system.name=%s under the request's among %d spans", want[db.Dialect()], len(rec.Ended())-before)
	})
}
