package upstream

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options configures a Pool. Zero values take the defaults named on each
// field; a negative value turns the feature off where that is said.
type Options struct {
	// Name labels metrics and logs, e.g. "auth" or a route's upstream name.
	Name string
	// Targets are the replicas' base URLs, scheme and host only, e.g.
	// "http://10.0.0.7:8081". SetTargets replaces them later.
	Targets []string

	// Transport is the template for the pool's connections (nil:
	// NewTransport()). The pool uses a clone, with ResponseHeaderTimeout set
	// to Timeout, so one template may serve many pools.
	Transport *http.Transport

	// H2C speaks HTTP/2 to every replica: without TLS, by prior knowledge
	// (h2c), to http:// targets, and by ALPN to https:// ones. Requests are
	// multiplexed over a few connections instead of one connection each.
	// A protocol upgrade (WebSocket), which HTTP/2 cannot carry, still goes
	// over HTTP/1.1. The replicas must accept h2c: in Go, an http.Server
	// whose Protocols include UnencryptedHTTP2.
	H2C bool

	// HealthPath is requested on each target for active checks ("/readyz").
	HealthPath string
	// HealthURL, when set, gives a target's health-check URL instead of
	// target+HealthPath: bam services answer /readyz on their ops port, not
	// on the API port. An empty result means no active check for that
	// target (passive ejection still applies).
	HealthURL func(target string) string
	// HealthInterval is the time between active checks (5s; < 0: none).
	HealthInterval time.Duration
	// HealthTimeout bounds one check (2s, at most HealthInterval).
	HealthTimeout time.Duration

	// Timeout bounds each attempt's wait for response headers (10s; < 0:
	// the Transport's own ResponseHeaderTimeout). It
	// never cuts a response whose headers arrived, so streams may last;
	// the request's own context bounds the whole call.
	Timeout time.Duration
	// Retries is how many more attempts, each on another replica, a
	// request may get (2; < 0: none). See RoundTrip for which requests.
	Retries int
	// RetryBudget caps retries as a share of requests.
	RetryBudget RetryBudget

	// EjectAfter is how many consecutive failures eject a replica (3; < 0:
	// never). A failure is a transport error, a timeout or a 502/503/504.
	EjectAfter int
	// EjectBase is the first ejection's length (1s); each ejection in a row
	// doubles it, up to EjectMax (30s).
	EjectBase, EjectMax time.Duration

	// Breaker configures the pool's circuit breaker.
	Breaker BreakerOptions

	// Clock tells the time to ejection, breaker and budget (the real clock).
	// Timers (health interval, transport timeouts) always use real time.
	Clock Clock
	// Logger receives state changes: ejections, health, breaker (discarded
	// when nil).
	Logger *slog.Logger
}

// RetryBudget lets retries be at most Ratio of requests plus MinPerSecond,
// so that a failing upstream never sees more than (1+Ratio)× its load plus
// a trickle. Unused budget accumulates up to 10 s of MinPerSecond (at
// least 10 retries).
type RetryBudget struct {
	Ratio        float64 // 0.2; < 0: only MinPerSecond
	MinPerSecond float64 // 10; < 0: none
}

// BreakerOptions configures the circuit breaker. It opens when, within one
// Window, at least Failures requests failed and they were at least
// FailureRatio of all; and at once when no replica is available. Open, it
// fails requests fast for OpenFor, then lets one probe through (half-open):
// success closes it, failure opens it again.
type BreakerOptions struct {
	Failures     int           // 5; < 0: the breaker never opens on failures
	FailureRatio float64       // 0.5
	Window       time.Duration // 10s
	OpenFor      time.Duration // 5s
}

// Clock tells the time; tests pass a fake one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// NewTransport returns an *http.Transport tuned for a gateway's upstream
// traffic: HTTP/1.1 keep-alive with enough idle connections per replica for
// hundreds of requests in flight (no connection churn under load), a short
// dial timeout so that a dead replica is skipped quickly, no proxy from the
// environment, and no transparent gzip (bodies pass through unchanged).
// There is no overall timeout: Options.Timeout bounds the wait for headers
// and the caller's context the rest.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   2 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// withDefaults fills in zero values.
func (o Options) withDefaults() Options {
	if o.Transport == nil {
		o.Transport = NewTransport()
	}
	if o.HealthPath == "" {
		o.HealthPath = "/readyz"
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = 5 * time.Second
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 2 * time.Second
	}
	if o.HealthInterval > 0 && o.HealthTimeout > o.HealthInterval {
		o.HealthTimeout = o.HealthInterval
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.RetryBudget.Ratio == 0 {
		o.RetryBudget.Ratio = 0.2
	}
	if o.RetryBudget.MinPerSecond == 0 {
		o.RetryBudget.MinPerSecond = 10
	}
	if o.EjectAfter == 0 {
		o.EjectAfter = 3
	}
	if o.EjectBase <= 0 {
		o.EjectBase = time.Second
	}
	if o.EjectMax <= 0 {
		o.EjectMax = 30 * time.Second
	}
	if o.EjectMax < o.EjectBase {
		o.EjectMax = o.EjectBase
	}
	b := &o.Breaker
	if b.Failures == 0 {
		b.Failures = 5
	}
	if b.FailureRatio <= 0 {
		b.FailureRatio = 0.5
	}
	if b.Window <= 0 {
		b.Window = 10 * time.Second
	}
	if b.OpenFor <= 0 {
		b.OpenFor = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
