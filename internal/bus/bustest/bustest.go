// Package bustest runs bus-backed tests against every available NATS: the
// embedded server always, an external one when BAM_TEST_NATS_URL is set.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// Kinds of bus a test can run against.
const (
	Embedded = "embedded"
	External = "external"
)

// Run calls fn once per available bus kind, each as a subtest with its own
// bus. The external subtest skips (or fails under BAM_TEST_REQUIRE_SERVICES=1)
// when BAM_TEST_NATS_URL is unset.
func Run(t *testing.T, fn func(t *testing.T, b *bus.Bus)) {
	t.Helper()
	for _, kind := range []string{Embedded, External} {
		t.Run(kind, func(t *testing.T) { fn(t, Open(t, kind)) })
	}
}

// RunWithDB calls fn for every available bus kind and database dialect, each
// combination a subtest with its own bus and a fresh database migrated with
// sets.
func RunWithDB(t *testing.T, fn func(t *testing.T, b *bus.Bus, db *store.DB), sets ...store.MigrationSet) {
	t.Helper()
	Run(t, func(t *testing.T, b *bus.Bus) {
		storetest.Run(t, func(t *testing.T, db *store.DB) { fn(t, b, db) }, sets...)
	})
}

// Open returns a bus of the given kind, closed when t ends.
func Open(t testing.TB, kind string) *bus.Bus {
	t.Helper()
	opts := bus.Options{Name: "bam-test", Logger: Logger()}
	switch kind {
	case Embedded:
		opts.DataDir = t.TempDir()
	case External:
		opts.URL = testenv.NATSURL(t)
	default:
		t.Fatalf("bustest: unknown bus kind %q", kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, opts)
	if err != nil {
		t.Fatalf("bustest: open %s bus: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("bustest: close bus: %v", err)
		}
	})
	return b
}

// Service returns a fresh service name with its stream ensured, so tests
// sharing an external server never see each other's events. The stream is
// deleted when t ends.
func Service(t testing.TB, b *bus.Bus) string {
	t.Helper()
	svc := ServiceName()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureStream(ctx, svc); err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.JetStream().DeleteStream(ctx, bus.StreamName(svc))
	})
	return svc
}

// ServiceName returns a random service name, for a stream of a test's own.
func ServiceName() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "t" + hex.EncodeToString(r[:])
}

// Logger discards logs unless BAM_TEST_LOG=1.
func Logger() *slog.Logger {
	if os.Getenv("BAM_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Effects creates fx(event_id): test consumers write one row to it per
// applied effect, so a test can count how often each event was applied.
var Effects = storetest.Migrations("fx", map[string]string{"00001_fx.sql": `-- +goose Up
CREATE TABLE fx (event_id TEXT NOT NULL);
-- +goose Down
DROP TABLE fx;
`})
