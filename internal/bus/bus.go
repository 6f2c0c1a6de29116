// Package bus carries events between bam services over NATS JetStream.
//
// A Bus is one connection, either to an embedded nats-server running in this
// process (the default: its store under the data dir, reachable in-process
// only unless asked to listen) or to an external NATS cluster. Events are
// CloudEvents 1.0 in structured JSON mode; the NATS subject of an event is its
// type (bam.<service>.<entity>.<verb>) and each service has one stream,
// BAM_<SERVICE>, holding bam.<service>.>. Publishing sets Nats-Msg-Id to the
// event id so JetStream drops duplicates, and carries the W3C trace context in
// the message headers.
//
// Services do not normally publish directly: they enqueue events through
// internal/outbox in the same transaction as their change, and consume them
// through internal/inbox, which makes consumers idempotent.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configures Open.
type Options struct {
	// URL of an external NATS server or cluster (comma-separated URLs are
	// accepted). Empty runs an embedded server in this process.
	URL string
	// DataDir is where the embedded server keeps its JetStream store. Empty
	// means a temporary directory removed by Close (tests only: nothing
	// survives a restart).
	DataDir string
	// Listen is the embedded server's client address, e.g. "127.0.0.1:4223".
	// Empty opens no TCP port at all: connections are in-process only, so the
	// embedded server never collides with a NATS already running on 4222.
	Listen string
	// Name identifies this process to NATS (connection name, server name).
	Name string
	// StreamReplicas is the replica count of streams created by EnsureStream;
	// 0 means 1. Use 3 on an external cluster.
	StreamReplicas int
	// StreamMaxAge bounds how long events stay in a stream; 0 means 7 days.
	StreamMaxAge time.Duration
	Logger       *slog.Logger
}

// Bus is a connection to NATS JetStream, plus the embedded server when there
// is one. It is safe for concurrent use.
type Bus struct {
	opts   Options
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *server.Server // nil when external (or after Close)
	tmpDir string         // removed on Close when DataDir was empty
	closed chan struct{}  // closed by the connection's ClosedHandler
}

// publishAckTimeout bounds the wait for an async publish's ack inside the
// client: past it the publish fails and leaves the pending set. Callers'
// own deadlines (the outbox's 30 s) are shorter or equal.
const publishAckTimeout = 30 * time.Second

// Open starts the embedded server (when opts.URL is empty) and connects.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Name == "" {
		opts.Name = "bam"
	}
	b := &Bus{opts: opts, log: opts.Logger.With("component", "bus"), closed: make(chan struct{})}
	connOpts := []nats.Option{
		nats.Name(opts.Name),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.log.Error("nats async error", "subject", subj, "err", err)
		}),
	}
	var err error
	if opts.URL == "" {
		if err = b.startEmbedded(); err != nil {
			return nil, err
		}
		connOpts = append(connOpts, nats.InProcessServer(b.srv))
	} else {
		connOpts = append(connOpts,
			nats.MaxReconnects(-1),
			nats.ReconnectWait(time.Second),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				b.log.Warn("nats disconnected", "err", err)
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				b.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			}),
		)
	}
	b.nc, err = nats.Connect(opts.URL, connOpts...)
	if err != nil {
		b.stopEmbedded()
		return nil, fmt.Errorf("bus: connect %s: %w", redact(opts.URL), err)
	}
	// An async publish whose ack never comes (a stalled stream leader on a
	// live connection) is dropped after publishAckTimeout: left pending,
	// such publishes piled up until every later one was refused ("too many
	// outstanding"), and the outbox stopped.
	b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(publishAckTimeout))
	if err != nil {
		b.nc.Close()
		b.stopEmbedded()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.Ready(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Ready reports whether the connection is up and JetStream answers; for
// readiness probes.
func (b *Bus) Ready(ctx context.Context) error {
	if s := b.nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("bus: connection %s", s)
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream unavailable: %w", err)
	}
	return nil
}

// Close drains the connection (in-flight publishes and subscriptions finish)
// and shuts the embedded server down.
func (b *Bus) Close() error {
	var err error
	if !b.nc.IsClosed() {
		if err = b.nc.Drain(); err == nil {
			select {
			case <-b.closed:
			case <-time.After(b.nc.Opts.DrainTimeout + time.Second):
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
		if errors.Is(err, nats.ErrConnectionClosed) {
			err = nil
		}
	}
	b.stopEmbedded()
	return err
}

// Conn is the underlying NATS connection, for advanced use.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the underlying JetStream context, for advanced use.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Logger is the bus's logger, for packages built on it.
func (b *Bus) Logger() *slog.Logger { return b.opts.Logger }

// URL is the client URL other processes can use to reach this bus: the
// external URL, the embedded server's listener, or "" for an embedded server
// without one.
func (b *Bus) URL() string {
	if b.srv == nil {
		return b.opts.URL
	}
	if b.opts.Listen == "" {
		return ""
	}
	return b.srv.ClientURL()
}

// Embedded reports whether the bus runs its own server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// FlushDelay is how long an event JetStream acknowledged may be held in
// memory or the OS's cache before it reaches the disk, so that an OS crash
// or power loss would lose it: up to EmbeddedSyncInterval on the embedded
// server; 0 on an external one, whose acknowledgement is as durable as its
// streams are configured to make it (replicas, sync).
func (b *Bus) FlushDelay() time.Duration {
	if b.Embedded() {
		return EmbeddedSyncInterval
	}
	return 0
}

// redact hides credentials in a NATS URL before it is logged.
func redact(url string) string {
	i, j := strings.Index(url, "://"), strings.LastIndex(url, "@")
	if i >= 0 && j > i {
		return url[:i+3] + "***" + url[j:]
	}
	return url
}
