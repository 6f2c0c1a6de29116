package platform

import (
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/bamhq/bam/internal/config"
)

// Procs is the GOMAXPROCS cfg asks for given the runtime's default
// (defaultProcs: the CPUs, or the container's CPU limit), and false to
// keep that default: one more when the process keeps a service's data in
// SQLite (database.url unset, or a sqlite: URL) and runs a service other
// than the gateway, which keeps none.
//
// Why: SQLite (pure Go here) writes through system calls that block, and
// one writer at a time commits with an fsync. While a goroutine is in a
// system call the runtime hands its P to other goroutines; when the fsync
// returns, the writer must get a P back, and with every P busy serving
// requests it waits in the run queue, holding SQLite's write lock all the
// while. An extra P gives it one at once: a create load on two cores
// served 1.02–1.20× the creates a second (four alternations,
// docs/benchmarks.md). Against PostgreSQL the waits are on sockets, which
// the runtime's poller handles without a P, and a CPU limit in a
// container is better not exceeded: the default stays.
func Procs(cfg config.Config, defaultProcs int) (int, bool) {
	sqlite := cfg.Database.URL == "" || strings.HasPrefix(cfg.Database.URL, "sqlite:")
	stores := slices.ContainsFunc(cfg.Services, func(s string) bool { return s != "gateway" })
	if !sqlite || !stores {
		return defaultProcs, false
	}
	return defaultProcs + 1, true
}

// ApplyProcs sets Procs(cfg) as GOMAXPROCS, unless GOMAXPROCS is set in
// the environment (the runtime has applied that one already).
func ApplyProcs(cfg config.Config, log *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if n, ok := Procs(cfg, runtime.GOMAXPROCS(0)); ok {
		runtime.GOMAXPROCS(n)
		log.Debug("GOMAXPROCS", "procs", n, "why", "SQLite's writer blocks in fsync")
	}
}
