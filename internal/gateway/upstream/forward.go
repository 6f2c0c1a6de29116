package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Forward is RoundTrip for the gateway's fast lane (internal/fastlane):
// req, a complete HTTP/1.1 request whose body is in memory, goes to a
// replica over a connection of the pool's own (see conns.go) instead of
// net/http's transport — no goroutines per connection, no copy of the
// request — with the same balancing, ejection, breaker, retry policy,
// budget and metrics as RoundTrip. Every body can be replayed, so the
// retry policy's "replayable" always holds.
//
// On success resp holds the answer's status and headers, and its body as
// resp.BodyStream(); the caller reads what it needs and must Close the
// returned Answer, which gives the connection back when the body was read
// to its end. On error resp holds nothing and there is no Answer.
//
// A pool with H2C set cannot forward (Fast says so).
func (p *Pool) Forward(req *fasthttp.Request, resp *fasthttp.Response) (*Answer, error) {
	req.Header.SetNoDefaultContentType(true) // fasthttp's default: a body sent without one would go on with one
	a := &forwardAttempt{p: p, req: req, resp: resp,
		idempotent: idempotentFast(&req.Header), head: req.Header.IsHead()}
	if err := p.run(context.Background(), a); err != nil {
		return nil, err
	}
	return a.answer, nil
}

// Fast reports whether Forward may be used: the pool speaks HTTP/1.1.
func (p *Pool) Fast() bool { return !p.opts.H2C }

// forwardAttempt is Forward's request.
type forwardAttempt struct {
	p          *Pool
	req        *fasthttp.Request
	resp       *fasthttp.Response
	idempotent bool
	head       bool
	answer     *Answer
}

func (a *forwardAttempt) try(_ int, t *target) (failure, error) {
	t.inFlight.Add(1)
	t.inFlightGauge.Inc()
	t.requests.Add(1)
	answer, err := a.p.exchange(t, a.req, a.resp, a.head, a.idempotent)
	if err != nil {
		finishTarget(t)
		return classifyFast(err), err
	}
	a.answer = answer
	switch a.resp.StatusCode() {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return badStatus, nil
	}
	return none, nil
}

func (a *forwardAttempt) retryable(f failure) bool {
	switch f {
	case dial:
		return true
	case broken, timeout, badStatus:
		return a.idempotent
	}
	return false
}

func (a *forwardAttempt) drop() {
	a.answer.discard()
	a.answer = nil
}

func (a *forwardAttempt) abandon() {}

// exchange sends req on a connection to t and reads the answer's head. A
// connection kept from an earlier request that turns out to have been
// closed by the replica (nothing came back) is replaced by a new one once,
// for requests that may be sent twice.
func (p *Pool) exchange(t *target, req *fasthttp.Request, resp *fasthttp.Response, head, idempotent bool) (*Answer, error) {
	// A request that must not be sent twice takes only a connection used
	// moments ago: a replica closes idle ones on its own schedule, and a
	// request written to one it just closed cannot be told apart from one
	// it received and crashed on.
	fresh := p.opts.Transport.IdleConnTimeout
	if fresh <= 0 {
		fresh = 90 * time.Second // NewTransport's
	}
	if !idempotent {
		fresh = unsafeReuse
	}
	for try := 0; ; try++ {
		c, err := p.conn(t, fresh, idempotent)
		if err != nil {
			return nil, err
		}
		resp.Reset()
		resp.SkipBody = head
		resp.StreamBody = true
		if err = c.roundTrip(req, resp, p.headerTimeout()); err == nil {
			return newAnswer(p, t, c, resp), nil
		}
		c.Close()
		if !c.reused || try > 0 || !idempotent || !closedBeforeAnswer(err) {
			return nil, err
		}
		fresh = 0 // the replica closed its idle connections: take a new one
	}
}

// headerTimeout bounds the wait for an answer's head: Timeout, or with
// none the transport's ResponseHeaderTimeout, as RoundTrip has it.
func (p *Pool) headerTimeout() time.Duration {
	if p.opts.Timeout > 0 {
		return p.opts.Timeout
	}
	return p.http1.ResponseHeaderTimeout
}

// closedBeforeAnswer says whether err is a connection the peer closed
// before sending anything.
func closedBeforeAnswer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// classifyFast is classify for Forward's errors.
func classifyFast(err error) failure {
	var d *dialError
	switch {
	case errors.As(err, &d):
		return dial
	case isTimeout(err):
		return timeout
	}
	return broken
}

// idempotentFast is idempotent for a fasthttp request.
func idempotentFast(h *fasthttp.RequestHeader) bool {
	switch string(h.Method()) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return h.Peek("Idempotency-Key") != nil || h.Peek("X-Idempotency-Key") != nil
}

// Answer is a forwarded request's response body and the connection it
// comes on; the replica counts the request in flight until Close.
type Answer struct {
	pool   *Pool
	target *target
	conn   *conn
	stream io.Reader // resp.BodyStream()
	resp   *fasthttp.Response
	ended  bool // the body was read to its end
	once   sync.Once
}

func newAnswer(p *Pool, t *target, c *conn, resp *fasthttp.Response) *Answer {
	a := &Answer{pool: p, target: t, conn: c, resp: resp, stream: resp.BodyStream()}
	if a.stream == nil {
		a.ended = true // no body (HEAD, 204, 304)
	}
	return a
}

// Unbound lifts the header timeout from the rest of the body: a stream may
// last. The caller calls it before streaming a body it does not read whole.
func (a *Answer) Unbound() {
	if a.conn.deadline {
		_ = a.conn.SetDeadline(time.Time{})
		a.conn.deadline = false
	}
}

// Read reads the body.
func (a *Answer) Read(b []byte) (int, error) {
	if a.ended {
		return 0, io.EOF
	}
	n, err := a.stream.Read(b)
	if errors.Is(err, io.EOF) {
		a.ended = true
	}
	return n, err
}

// Close ends the request: the connection is kept for another when the body
// was read to its end and the replica did not ask to close it.
func (a *Answer) Close() error {
	a.once.Do(func() {
		reuse := a.ended && !a.resp.ConnectionClose()
		_ = a.resp.CloseBodyStream()
		if reuse {
			a.pool.keep(a.target, a.conn)
		} else {
			a.conn.Close()
		}
		finishTarget(a.target)
	})
	return nil
}

// discard drains a little of an answer that will not be used, so that its
// connection may serve another request, and closes it.
func (a *Answer) discard() {
	_, _ = io.Copy(io.Discard, io.LimitReader(a, 4<<10))
	_ = a.Close()
}

func finishTarget(t *target) {
	t.inFlight.Add(-1)
	t.inFlightGauge.Dec()
}

// unsafeReuse is how long a connection may have been idle to carry a
// request that must not be sent twice.
const unsafeReuse = time.Second
