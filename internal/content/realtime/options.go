package realtime

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of Options.
const (
	DefaultHeartbeat                = 25 * time.Second
	DefaultMaxSubscriptions         = 100
	DefaultSendQueue                = 256
	DefaultWindowSize               = 10_000
	DefaultMaxMessageBytes          = 16 << 10
	DefaultWriteTimeout             = 10 * time.Second
	DefaultWindowMaxBytes           = 64 << 20
	DefaultMaxConnectionsPerSubject = 20
	DefaultMaxConnectionAge         = 24 * time.Hour
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
	// WindowMaxBytes bounds the encoded size of the changes in the resume
	// window: the oldest are dropped while the sum is over it
	// (DefaultWindowMaxBytes).
	WindowMaxBytes int
	// MaxConnectionsPerSubject bounds the open connections of one
	// principal subject, and of one ClientKey for anonymous callers
	// (DefaultMaxConnectionsPerSubject); more answer 429. Negative: no bound.
	MaxConnectionsPerSubject int
	// ClientKey names the client of an anonymous request, for
	// MaxConnectionsPerSubject (nil: the host of r.RemoteAddr). Behind
	// proxies, set it to the client's address as the proxies tell it
	// (httpx.ClientIP with the trusted proxies).
	ClientKey func(r *http.Request) string
	// MaxConnectionAge ends a connection with "expired" after this long,
	// even when its principal does not expire (API keys, anonymous), so
	// that clients reconnect and authenticate again
	// (DefaultMaxConnectionAge). Negative: no bound.
	MaxConnectionAge time.Duration
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
	if o.WindowMaxBytes <= 0 {
		o.WindowMaxBytes = DefaultWindowMaxBytes
	}
	if o.MaxConnectionsPerSubject == 0 {
		o.MaxConnectionsPerSubject = DefaultMaxConnectionsPerSubject
	}
	if o.ClientKey == nil {
		o.ClientKey = remoteHost
	}
	if o.MaxConnectionAge == 0 {
		o.MaxConnectionAge = DefaultMaxConnectionAge
	}
	return o
}

// remoteHost is the default ClientKey: the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
