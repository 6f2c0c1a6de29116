package bus

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedSyncInterval is how often the embedded server flushes its store.
const EmbeddedSyncInterval = 100 * time.Millisecond

// startEmbedded runs a JetStream-enabled nats-server in this process. With no
// Listen address it opens no socket: clients reach it through
// nats.InProcessServer only.
func (b *Bus) startEmbedded() error {
	dir := b.opts.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bam-nats-")
		if err != nil {
			return fmt.Errorf("bus: embedded store dir: %w", err)
		}
		dir, b.tmpDir = tmp, tmp
	}
	sopts := &server.Options{
		ServerName: b.opts.Name,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true, // the kernel owns signals
		DontListen: b.opts.Listen == "",
		// Leave room for large payloads without tuning; the default is 1 MiB.
		MaxPayload: 8 << 20,
		// The store is flushed to disk every EmbeddedSyncInterval instead
		// of nats-server's two minutes: an event is acknowledged once in
		// the OS's cache, so an OS crash or power loss can lose that much
		// of the stream; on SQLite the outbox keeps an event's row longer
		// than that (FlushDelay, outbox.Options.KeepPublished) and
		// publishes it again. A short interval keeps that outbox small: a
		// flush every second, rows kept two, held ~13,000 rows under a
		// create load and cost 2–3 % of its creates; every 100 ms costs
		// nothing measurable. (SyncAlways would close the window at an
		// fsync per message, about the disk's flush rate in events/s.)
		SyncInterval: EmbeddedSyncInterval,
	}
	if b.opts.Listen != "" {
		host, port, err := net.SplitHostPort(b.opts.Listen)
		if err != nil {
			return fmt.Errorf("bus: listen %q: %w", b.opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("bus: listen %q: bad port", b.opts.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT // nats-server reads 0 as "default 4222"
		}
		sopts.Host, sopts.Port = host, p
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		b.removeTmp()
		return fmt.Errorf("bus: embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{b.log.With("component", "nats-server")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		b.removeTmp()
		return fmt.Errorf("bus: embedded server not ready after 10s")
	}
	b.srv = srv
	b.log.Info("embedded nats started", "store_dir", dir, "listen", b.URL())
	return nil
}

func (b *Bus) stopEmbedded() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.removeTmp()
	b.srv = nil
}

func (b *Bus) removeTmp() {
	if b.tmpDir != "" {
		_ = os.RemoveAll(b.tmpDir)
	}
}

// serverLogger sends nats-server's log lines to slog. Its notices (startup
// banners, limits) are debug noise for bam, so they go out at debug level.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
