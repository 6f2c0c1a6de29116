package platform_test

import (
	"log/slog"
	"os"
	"runtime/debug"
	"testing"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/platform"
)

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		name            string
		limit, db, nats string
		want            int64
		set             bool
	}{
		{name: "embedded setup", want: 160 << 20, set: true},
		{name: "PostgreSQL", db: "postgres://db/bam"},
		{name: "a NATS cluster", nats: "nats://nats:4222"},
		{name: "set, split out", limit: "512MiB", db: "postgres://db/bam", want: 512 << 20, set: true},
		{name: "off, embedded", limit: "off"},
	} {
		cfg := config.Defaults()
		cfg.MemoryLimit, cfg.Database.URL, cfg.NATS.URL = c.limit, c.db, c.nats
		if got, set := platform.MemoryLimit(cfg); got != c.want && c.set || set != c.set {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, set, c.want, c.set)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	cfg := config.Defaults()
	cfg.MemoryLimit = "300MiB"

	t.Setenv("GOMEMLIMIT", "1GiB") // the environment's wins: the runtime read it at start
	platform.ApplyMemoryLimit(cfg, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set, the limit moved from %d to %d", before, got)
	}
	t.Setenv("GOMEMLIMIT", "") // as `GOMEMLIMIT=${UNSET}` leaves it: no limit to the runtime, so bam's applies
	platform.ApplyMemoryLimit(cfg, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("with GOMEMLIMIT empty: limit %d, want %d", got, 300<<20)
	}
	debug.SetMemoryLimit(before)
	os.Unsetenv("GOMEMLIMIT") // t.Setenv restores it
	platform.ApplyMemoryLimit(cfg, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("limit %d, want %d", got, 300<<20)
	}
}
