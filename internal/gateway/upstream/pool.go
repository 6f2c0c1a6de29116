// Package upstream makes the replicas of one upstream service look like a
// single resilient http.RoundTripper for the gateway: a Pool balances
// requests by the power of two choices on requests in flight, keeps
// replicas that fail active health checks or fail requests in a row out of
// rotation, retries on another replica when that is safe and the retry
// budget allows, and fails fast through a circuit breaker when the whole
// upstream is down.
//
// Responses are never buffered: a replica counts a request as in flight
// until its response body is closed, and Timeout bounds only the wait for
// response headers, so server-sent events, long downloads and WebSocket
// upgrades pass through for as long as they last.
//
// The gateway maps ErrCircuitOpen (and every other error a Pool returns,
// all of which wrap ErrUnavailable) to 503.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrUnavailable is wrapped by every error a Pool returns itself: no
	// replica could answer.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrCircuitOpen means the pool's breaker is open (or just opened, no
	// replica being available): the request was failed without being sent.
	ErrCircuitOpen = fmt.Errorf("circuit open: %w", ErrUnavailable)
	// ErrTimeout means the last attempt got no response headers in Timeout.
	ErrTimeout = fmt.Errorf("no response in time: %w", ErrUnavailable)
)

// Pool is a set of replicas of one upstream, used as one http.RoundTripper.
// A request's URL scheme and host are replaced by the chosen replica's; its
// path, query and Host header are kept. Create it with New; Close it.
type Pool struct {
	opts      Options
	transport *http.Transport
	http1     *http.Transport // HTTP/1.1: protocol upgrades and health checks (transport itself unless H2C)
	log       *slog.Logger
	metrics   *poolMetrics
	epoch     time.Time

	targets atomic.Pointer[[]*target] // copy on write
	rr      atomic.Uint64
	breaker breaker
	budget  *budget

	mu         sync.Mutex // serializes SetTargets and Close
	closed     bool
	kick       chan struct{}
	stop       context.CancelFunc
	healthDone chan struct{}

	errOpen, errNoTargets error // made once: failing fast allocates nothing
}

// New returns a pool over opts.Targets and starts its health checks.
func New(opts Options) (*Pool, error) {
	opts = opts.withDefaults()
	if opts.Name == "" {
		return nil, errors.New("upstream: a pool needs a Name")
	}
	newTransport := func() *http.Transport {
		tr := opts.Transport.Clone()
		if opts.Timeout > 0 {
			tr.ResponseHeaderTimeout = opts.Timeout
		}
		return tr
	}
	tr := newTransport()
	http1 := tr
	if opts.H2C {
		// A clone of the template, not of tr: cloning a transport sets up
		// its protocols for good, before Protocols could say h2c.
		tr = newTransport()
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true) // http:// targets: HTTP/2 by prior knowledge
		tr.Protocols.SetHTTP2(true)            // https:// targets: HTTP/2 by ALPN
	}
	p := &Pool{
		opts:         opts,
		transport:    tr,
		http1:        http1,
		log:          opts.Logger,
		metrics:      newPoolMetrics(opts.Name),
		epoch:        opts.Clock.Now(),
		breaker:      breaker{opts: opts.Breaker},
		kick:         make(chan struct{}, 1),
		healthDone:   make(chan struct{}),
		errOpen:      fmt.Errorf("upstream %s: %w", opts.Name, ErrCircuitOpen),
		errNoTargets: fmt.Errorf("upstream %s: no replicas: %w", opts.Name, ErrUnavailable),
	}
	p.budget = newBudget(opts.RetryBudget, 0)
	p.targets.Store(&[]*target{})
	if err := p.SetTargets(opts.Targets); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	if opts.HealthInterval > 0 {
		go p.healthLoop(ctx)
	} else {
		close(p.healthDone)
	}
	return p, nil
}

// now is the pool's time: since it was made, by its Clock.
func (p *Pool) now() time.Duration { return p.opts.Clock.Now().Sub(p.epoch) }

// SetTargets replaces the replicas, live: replicas kept keep their state
// (health, ejection, requests in flight); new ones start healthy and are
// checked at once; requests in flight to removed ones finish normally.
// Discovery calls it. On an invalid URL nothing changes.
func (p *Pool) SetTargets(raws []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.targets.Load()
	next := make([]*target, 0, len(raws))
	var added []*target
	for _, raw := range raws {
		if slices.ContainsFunc(next, func(t *target) bool { return t.raw == raw }) {
			continue
		}
		if i := slices.IndexFunc(old, func(t *target) bool { return t.raw == raw }); i >= 0 {
			next = append(next, old[i])
			continue
		}
		t, err := newTarget(p.opts.Name, raw, p.opts.HealthURL, p.opts.HealthPath)
		if err != nil {
			for _, t := range added {
				forgetTarget(p.opts.Name, t.raw)
			}
			return err
		}
		next = append(next, t)
		added = append(added, t)
	}
	p.targets.Store(&next)
	for _, t := range old {
		if !slices.Contains(next, t) {
			t.idle.closeIdle(true)
			forgetTarget(p.opts.Name, t.raw)
			p.log.Info("upstream replica removed", "upstream", p.opts.Name, "target", t.raw)
		}
	}
	for _, t := range added {
		p.log.Info("upstream replica added", "upstream", p.opts.Name, "target", t.raw, "health_url", t.healthURL)
	}
	if len(added) > 0 && p.opts.HealthInterval > 0 {
		p.kickHealth()
	}
	p.refreshGauges()
	return nil
}

// Close stops the health checks, closes idle connections and deletes the
// pool's metric series. Requests in flight finish.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.stop()
	<-p.healthDone
	for _, t := range *p.targets.Load() {
		t.idle.closeIdle(true)
		forgetTarget(p.opts.Name, t.raw)
	}
	forgetPool(p.opts.Name)
	p.CloseIdleConnections()
	return nil
}

// CloseIdleConnections closes idle connections to every replica;
// http.Client calls it from its own.
func (p *Pool) CloseIdleConnections() {
	for _, t := range *p.targets.Load() {
		t.idle.closeIdle(false)
	}
	p.transport.CloseIdleConnections()
	if p.http1 != p.transport {
		p.http1.CloseIdleConnections()
	}
}

// Stats is a snapshot of a pool, for admin pages and tests.
type Stats struct {
	Name    string
	Breaker BreakerState
	Targets []TargetStats
}

// TargetStats is one replica's part of Stats.
type TargetStats struct {
	URL       string
	HealthURL string
	Healthy   bool          // the last active check passed
	Ejected   time.Duration // > 0: ejected for this much longer
	Probation bool          // re-admitted after an ejection, not yet proven
	InFlight  int64
	Requests  uint64 // attempts sent
	Failures  uint64 // attempts failed (error, timeout, 502/503/504)
}

// Stats returns the pool's state now.
func (p *Pool) Stats() Stats {
	now := p.now()
	s := Stats{Name: p.opts.Name, Breaker: p.breaker.current()}
	for _, t := range *p.targets.Load() {
		ts := TargetStats{
			URL: t.raw, HealthURL: t.healthURL, Healthy: t.healthy.Load(),
			Probation: t.probation.Load(), InFlight: t.inFlight.Load(),
			Requests: t.requests.Load(), Failures: t.failures.Load(),
		}
		if until := time.Duration(t.ejectedUntil.Load()); until > now {
			ts.Ejected = until - now
		}
		s.Targets = append(s.Targets, ts)
	}
	return s
}

// call is one attempt: the outgoing request, its URL and the response
// body's wrapper, in one allocation.
type call struct {
	req    http.Request
	u      url.URL
	target *target
	body   io.ReadCloser // the transport's response body
	done   atomic.Bool
}

// send makes one attempt at t. The request counts as in flight at t until
// the response body is closed (or the attempt failed).
func (p *Pool) send(req *http.Request, t *target, body io.ReadCloser) (*http.Response, error) {
	c := &call{req: *req, u: *req.URL, target: t}
	c.u.Scheme, c.u.Host = t.scheme, t.host
	c.req.URL = &c.u
	c.req.Body = body
	t.inFlight.Add(1)
	t.inFlightGauge.Inc()
	t.requests.Add(1)
	tr := p.transport
	if req.Header["Upgrade"] != nil {
		tr = p.http1
	}
	resp, err := tr.RoundTrip(&c.req)
	if err != nil {
		c.finish()
		return nil, err
	}
	c.body = resp.Body
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &upgradedBody{call: c, rwc: rwc} // the proxy needs to write to an upgraded connection
		return resp, nil
	}
	resp.Body = c
	return resp, nil
}

func (c *call) finish() {
	if c.done.CompareAndSwap(false, true) {
		c.target.inFlight.Add(-1)
		c.target.inFlightGauge.Dec()
	}
}

func (c *call) Read(b []byte) (int, error) { return c.body.Read(b) }

func (c *call) Close() error {
	c.finish()
	return c.body.Close()
}

// upgradedBody is the body of a 101 response: the connection itself.
type upgradedBody struct {
	*call
	rwc io.ReadWriteCloser
}

func (u *upgradedBody) Write(b []byte) (int, error) { return u.rwc.Write(b) }
