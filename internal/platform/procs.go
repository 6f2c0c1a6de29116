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
// has every CPU (limited: a CPU quota applies, which one P more would
// exceed; a default below cpus says so too).
//
// Why: SQLite (pure Go here) writes through system calls that block, and
// one writer at a time commits with an fsync. While a goroutine is in a
// system call the runtime hands its P to other goroutines; when the fsync
// returns, the writer must get a P back, and with every P busy serving
// requests it waits in the run queue, holding SQLite's write lock all the
// while. An extra P gives it one at once: a create load on two cores
// served 1.02–1.20× the creates a second (four alternations, see
// docs/benchmarks.md). The gateway's proxying, all CPU, lost by it
// (JWT-checked requests relative to open ones: a median of 0.85 against
// 0.90), so a process running it keeps the default. Against PostgreSQL
// the waits are on sockets, which the runtime's poller handles without a
// P. Setting GOMAXPROCS ends the runtime's own updates of it to a changed
// CPU limit.
func Procs(cfg config.Config, defaultProcs, cpus int, limited bool) (int, bool) {
	sqlite := cfg.Database.URL == "" || strings.HasPrefix(cfg.Database.URL, "sqlite:")
	gateway := slices.ContainsFunc(cfg.Services, func(s string) bool {
		s = strings.TrimSpace(s)
		return s == "gateway" || s == "all"
	})
	if !sqlite || gateway || len(cfg.Services) == 0 || limited || defaultProcs < cpus {
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
	if n, ok := Procs(cfg, runtime.GOMAXPROCS(0), runtime.NumCPU(), cpuQuota()); ok {
		runtime.GOMAXPROCS(n)
		log.Debug("GOMAXPROCS", "procs", n, "why", "SQLite's writer blocks in fsync")
	}
}

// cpuQuota reports whether the process's cgroup (v2, or v1's cpu
// controller, as a container sees them at /sys/fs/cgroup) limits its CPU
// time. The runtime reads the limit to size GOMAXPROCS but does not say
// whether one applies, and rounds it up to at least 2, so a quota of one
// CPU on a two-CPU machine leaves the default at the CPUs.
func cpuQuota() bool {
	if b, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
		quota, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		return quota != "max"
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		return strings.TrimSpace(string(b)) != "-1"
	}
	return false
}
