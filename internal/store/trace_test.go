package store_test

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestTracing checks that queries produce spans on the global tracer
// provider, tagged with the database system. It sets the global provider, so
// it is the only test in the package that looks at spans.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	want := map[store.Dialect]string{store.SQLite: "sqlite", store.Postgres: "postgresql"}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := db.SQL().ExecContext(t.Context(), "SELECT 42"); err != nil {
			t.Fatal(err)
		}
		for _, s := range rec.Ended() {
			for _, a := range s.Attributes() {
				if string(a.Key) == "db.system.name" && a.Value.AsString() == want[db.Dialect()] {
					return
				}
			}
		}
		t.Errorf("no span with db.system.name=%s among %d spans", want[db.Dialect()], len(rec.Ended()))
	})
}
