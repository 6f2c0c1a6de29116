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
// (defaultProcs) on a machine of cpus CPUs, and false to keep that
// default: one more when the process keeps a service's data in SQLite
// (database.url unset, or a sqlite: URL), does not run the gateway, and
// has every CPU (a default below cpus is a container's CPU limit, which
// one P more would exceed).
//
// Why: SQLite (pure Go here) writes through system calls that block, and
// one writer at a time commits with an fsync. While a goroutine is in a
// system call the runtime hands its P to other goroutines; when the fsync
// returns, the writer must get a P back, and with every P busy serving
// requests it waits in the run queue, holding SQLite's write lock all the
// while. An extra P gives it one at once: a create load on two cores
// served 1.02–1.20× the creates a second (four alternations, see
// docs/benchmarks.md). The gateway's proxying, all CPU, lost by it
// (JWT-checked requests, relative to open ones: 0.80 against 0.90), so a
// process running it keeps the default. Against PostgreSQL the waits are
// on sockets, which the runtime's poller handles without a P. Setting it
// ends the runtime's own updates of GOMAXPROCS to a changed CPU limit.
func Procs(cfg config.Config, defaultProcs, cpus int) (int, bool) {
	sqlite := cfg.Database.URL == "" || strings.HasPrefix(cfg.Database.URL, "sqlite:")
	gateway := slices.ContainsFunc(cfg.Services, func(s string) bool {
		s = strings.TrimSpace(s)
		return s == "gateway" || s == "all"
	})
	if !sqlite || gateway || len(cfg.Services) == 0 || defaultProcs < cpus {
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
	if n, ok := Procs(cfg, runtime.GOMAXPROCS(0), runtime.NumCPU()); ok {
		runtime.GOMAXPROCS(n)
		log.Debug("GOMAXPROCS", "procs", n, "why", "SQLite's writer blocks in fsync")
	}
}
