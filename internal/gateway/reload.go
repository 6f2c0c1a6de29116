package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bamhq/bam/internal/config"
)

var reloads = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "bam_gateway_reloads_total",
	Help: "Configuration reloads of the gateway by result (applied, rejected).",
}, []string{"result"})

// Reloader rebuilds the gateway's table from a fresh configuration. A
// configuration that does not load or does not build is rejected with a
// logged reason, and the gateway keeps serving the table it has.
type Reloader struct {
	Gateway *Gateway
	Builder *Builder
	// Load reads the configuration again, all layers (file, environment, flags).
	Load func() (config.Config, error)
	Log  *slog.Logger

	mu sync.Mutex // one reload at a time
}

// Reload loads the configuration and applies it, unless its gateway
// section is the one in force (a file rewritten with the same content, or
// changed only in comments or other sections): then nothing happens but a
// debug log line.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.Load()
	if err == nil && r.Builder.Unchanged(c) {
		r.Log.DebugContext(ctx, "gateway: configuration unchanged; nothing to reload")
		return nil
	}
	if err == nil {
		err = r.Builder.Apply(r.Gateway, c)
	}
	if err != nil {
		reloads.WithLabelValues("rejected").Inc()
		r.Log.ErrorContext(ctx, "gateway: new configuration rejected; still serving the previous routes", "err", err)
		return err
	}
	reloads.WithLabelValues("applied").Inc()
	r.Log.InfoContext(ctx, "gateway: configuration reloaded", "routes", len(r.Gateway.Routes()), "user_routes", len(c.Gateway.Routes))
	return nil
}

// WatchFile calls changed each time the content of path changes, checking
// every interval until ctx is done. It polls a hash of the content rather
// than relying on file events: editors that write a new file and rename it,
// ConfigMaps swapping symlinks and network filesystems all change the
// content, not always the inode a watch was set on. A file that is briefly
// missing mid-write is not a change. The first check always counts as a
// change, so that an edit made between the caller's own load and the start
// of the watch is not missed: changed must tell an unchanged configuration
// from a new one itself, as Reloader.Reload does.
func WatchFile(ctx context.Context, path string, interval time.Duration, changed func()) {
	sum := func() ([]byte, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false
		}
		s := sha256.Sum256(b)
		return s[:], true
	}
	var last []byte
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if s, ok := sum(); ok && !bytes.Equal(s, last) {
			last = s
			changed()
		}
	}
}
