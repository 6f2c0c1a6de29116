package platform

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/bamhq/bam/internal/config"
)

// embeddedMemoryLimit is the Go runtime's soft memory limit in the
// embedded setup, where one process holds every service, SQLite (pure Go:
// its page cache is Go heap) and the NATS server's buffers. Without a
// limit the collector lets the heap grow to twice what is live, and a
// minute of writes at full speed took the process to 315–332 MB; with
// this one it stays near 210 MB for a few percent more CPU
// (docs/benchmarks.md, "Peak RSS under sustained creates").
const embeddedMemoryLimit = 160 << 20

// MemoryLimit is the soft memory limit cfg asks for, in bytes, and false
// when it asks for none: memory_limit when set, embeddedMemoryLimit in the
// embedded setup (no database.url, no nats.url), none otherwise — a
// service on its own in a container gets its limit from the container
// (GOMEMLIMIT).
func MemoryLimit(cfg config.Config) (int64, bool) {
	switch cfg.MemoryLimit {
	case "off":
		return 0, false
	case "":
		return embeddedMemoryLimit, cfg.Database.URL == "" && cfg.NATS.URL == ""
	}
	n, err := config.ParseSize(cfg.MemoryLimit)
	return n, err == nil && n > 0
}

// ApplyMemoryLimit sets MemoryLimit(cfg) as the runtime's soft memory
// limit, unless GOMEMLIMIT is set in the environment (the runtime has
// applied that one already; an empty one, as `GOMEMLIMIT=${LIMIT}` leaves
// it, the runtime ignores, and so does this).
func ApplyMemoryLimit(cfg config.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if n, ok := MemoryLimit(cfg); ok {
		debug.SetMemoryLimit(n)
		log.Debug("memory limit", "bytes", n, "mib", n>>20)
	}
}
