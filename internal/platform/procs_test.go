package platform_test

import (
	"log/slog"
	"os"
	"runtime"
	"testing"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/platform"
)

func TestProcs(t *testing.T) {
	for _, c := range []struct {
		name     string
		db       string
		services []string
		cpus     int
		limited  bool
		want     int
		set      bool
	}{
		{name: "embedded setup, every service", services: []string{"all"}, want: 2},
		{name: "embedded setup, auth and content", services: []string{"auth", "content"}, want: 3, set: true},
		{name: "sqlite URL, auth alone", db: "sqlite:/data/auth.db", services: []string{"auth"}, want: 3, set: true},
		{name: "PostgreSQL", db: "postgres://db/bam", services: []string{"content"}, want: 2},
		{name: "gateway alone", services: []string{"gateway"}, want: 2},
		{name: "gateway and content", services: []string{"gateway", "content"}, want: 2},
		{name: "gateway, spaced", services: []string{"content", " gateway"}, want: 2},
		{name: "a CPU limit under the CPUs", services: []string{"content"}, cpus: 4, want: 2},
		{name: "a CPU quota the default rounds up", services: []string{"content"}, limited: true, want: 2},
	} {
		cfg := config.Defaults()
		cfg.Database.URL, cfg.Services = c.db, c.services
		cpus := c.cpus
		if cpus == 0 {
			cpus = 2
		}
		if got, set := platform.Procs(cfg, 2, cpus, c.limited); got != c.want || set != c.set {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, set, c.want, c.set)
		}
	}
}

func TestApplyProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	if before < runtime.NumCPU() || platform.CPUQuota() {
		t.Skipf("GOMAXPROCS %d of %d CPUs under a CPU limit, which ApplyProcs keeps", before, runtime.NumCPU())
	}
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	cfg := config.Defaults()
	cfg.Services = []string{"auth", "content"} // on SQLite, without the gateway: one more

	t.Setenv("GOMAXPROCS", "1") // the environment's wins: the runtime read it at start
	platform.ApplyProcs(cfg, slog.New(slog.DiscardHandler))
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("with GOMAXPROCS set, procs moved from %d to %d", before, got)
	}
	os.Unsetenv("GOMAXPROCS") // t.Setenv restores it
	platform.ApplyProcs(cfg, slog.New(slog.DiscardHandler))
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Errorf("procs %d, want %d", got, before+1)
	}
}
