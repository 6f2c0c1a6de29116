package realtime

import (
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultHeartbeat        = 25 * time.Second
	DefaultMaxSubscriptions = 100
	DefaultSendQueue        = 256
	DefaultWindowSize       = 10_000
	DefaultMaxMessageBytes  = 16 << 10
	DefaultWriteTimeout     = 10 * time.Second
)

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// Authorizer turns subscriptions into Matchers. Without one every
	// subscription is refused.
	Authorizer Authorizer
	// Logger receives matcher failures and internal errors (nil:
	// slog.Default()).
	Logger *slog.Logger
	// Heartbeat is the interval of SSE ": ping" comments and WebSocket
	// pings (DefaultHeartbeat).
	Heartbeat time.Duration
	// MaxSubscriptions bounds the subscriptions of one connection
	// (DefaultMaxSubscriptions).
	MaxSubscriptions int
	// SendQueue is how many messages may wait for one connection before
	// it is closed as too slow (DefaultSendQueue).
	SendQueue int
	// WindowSize is how many recent changes are kept for resuming
	// (DefaultWindowSize).
	WindowSize int
	// WindowMaxAge, when set, also drops changes older than this from the
	// resume window.
	WindowMaxAge time.Duration
	// MaxMessageBytes bounds a WebSocket message from a client
	// (DefaultMaxMessageBytes).
	MaxMessageBytes int64
	// WriteTimeout bounds writes to a client: a connection whose write
	// blocks for between half of it and all of it is ended
	// (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// AllowedOrigins are the origin patterns accepted for cross-origin
	// WebSocket connections besides the same origin (see the package
	// comment).
	AllowedOrigins []string
	// Clock replaces time.Now for the window's ages, in tests.
	Clock func() time.Time
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.WindowSize <= 0 {
		o.WindowSize = DefaultWindowSize
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}
