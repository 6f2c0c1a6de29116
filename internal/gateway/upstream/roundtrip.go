package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bamhq/bam/internal/transport"
)

// RoundTrip sends req to a replica and, when that fails in a way that is
// safe to retry, to others. It returns the last replica's answer — a
// 502/503/504 that could not be retried is returned as it is — or an error
// wrapping ErrUnavailable: ErrCircuitOpen when the breaker is open or no
// replica is available, ErrTimeout when the last attempt timed out. The
// caller's context bounds the whole call; Timeout bounds each attempt's
// wait for response headers (counted once the request body is sent).
//
// Which failures are retried, and for which requests:
//
//   - The connection could not be made (refused, unreachable, dial
//     timeout): nothing reached the replica, so any method is retried, as
//     long as the body can be sent again (no body, req.GetBody, or a body
//     nobody read yet — a failed dial reads none).
//   - The connection broke before a response (reset, EOF), no response
//     headers came within Timeout, or the answer was 502, 503 or 504: the
//     replica may have acted on the request, so only idempotent requests
//     are retried (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any with an
//     Idempotency-Key header) whose body can be replayed. A connection that
//     broke before anything was written is retried inside net/http.
//
// An attempt that failed because reading the caller's body failed (over
// the size limit, or the client went away mid-upload) is the client's
// doing: like a canceled request it is neither retried nor counted against
// the replica or the breaker.
//
// Each retry goes to a replica the request has not tried yet, at most
// Retries times, and spends a token of the pool's retry budget; when the
// budget is spent the failure is returned as it is.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	a := &httpAttempt{p: p, req: req, body: req.Body}
	if a.body != nil && a.body != http.NoBody {
		a.client = &clientBody{rc: a.body}
		a.body = a.client
	}
	if a.client != nil && req.GetBody == nil {
		a.held = transport.HoldBody(a.body)
		defer a.held.Release()
		a.body = a.held
	}
	if err := p.run(req.Context(), a); err != nil {
		return nil, err
	}
	return a.resp, nil
}

// attempt is one kind of request as the retry loop (run) sees it.
type attempt interface {
	// try sends the request to t, the n-th attempt (from 0). It returns
	// how that went and, when there is no answer to keep, the error. A
	// failure of aborted means the attempt could not even be made.
	try(n int, t *target) (failure, error)
	// retryable says whether the request may go again after f.
	retryable(f failure) bool
	// drop discards the answer kept by the last try, before a retry.
	drop()
	// abandon releases the request when no attempt will be made.
	abandon()
}

// run is the retry loop of RoundTrip and Forward: breaker, balancing,
// ejection, budget and metrics. It returns nil when a's last try kept an
// answer (a success, or a failed answer returned as it is), else the error
// to give the caller.
func (p *Pool) run(ctx context.Context, a attempt) error {
	now := p.now()
	admitted, probe, changed := p.breaker.admit(now)
	if changed {
		p.breakerChanged(HalfOpen)
	}
	if !admitted {
		a.abandon()
		p.metrics.circuitOpen.Inc()
		return p.errOpen
	}
	ts := *p.targets.Load()
	if len(ts) == 0 {
		a.abandon()
		if probe {
			p.breaker.release()
		}
		p.metrics.errored.Inc()
		return p.errNoTargets
	}
	p.budget.deposit(now)
	var (
		skip    excluded
		kept    bool // the last try kept an answer
		lastErr error
		lastF   failure
		last    *target
	)
	for n := 0; ; n++ {
		i := p.next(ts, skip, now, probe)
		if i < 0 && n > 0 { // the replica a retry counted on went away meanwhile
			break
		}
		if i < 0 {
			a.abandon()
			if p.breaker.trip(now) {
				p.breakerChanged(Open)
			}
			p.metrics.circuitOpen.Inc()
			return p.errOpen
		}
		skip.add(i)
		t := ts[i]
		f, err := a.try(n, t)
		if f == aborted {
			lastErr = err
			break
		}
		now = p.now()
		switch f {
		case none:
			p.succeeded(t, now, probe)
			p.recordOutcome(now, false, probe)
			p.metrics.ok.Inc()
			return nil
		case canceled:
			if probe {
				p.breaker.release()
			}
			p.metrics.errored.Inc()
			return err
		}
		p.failed(t, now)
		kept, lastErr, lastF, last = err == nil, err, f, t
		if n >= p.opts.Retries || !a.retryable(f) || ctx.Err() != nil || p.next(ts, skip, now, probe) < 0 {
			break
		}
		if !p.budget.withdraw(now) {
			p.metrics.retriesDenied.Inc()
			break
		}
		p.metrics.retries[f].Inc()
		if kept {
			a.drop()
			kept = false
		}
	}
	p.recordOutcome(now, true, probe)
	if kept {
		p.metrics.failed.Inc()
		return nil
	}
	p.metrics.errored.Inc()
	switch {
	case lastErr == nil: // the answer was discarded for a retry that could not be made
		return fmt.Errorf("upstream %s: no replica left to retry on: %w", p.opts.Name, ErrUnavailable)
	case last == nil:
		return fmt.Errorf("upstream %s: %w (%w)", p.opts.Name, ErrUnavailable, lastErr)
	case lastF == timeout:
		return fmt.Errorf("upstream %s: %s: %w (%w)", p.opts.Name, last.raw, ErrTimeout, lastErr)
	}
	return fmt.Errorf("upstream %s: %s: %w (%w)", p.opts.Name, last.raw, ErrUnavailable, lastErr)
}

// httpAttempt is RoundTrip's request: an *http.Request whose body is
// replayed through GetBody, or held (transport.HoldBody) so that a failed
// dial can send it again.
type httpAttempt struct {
	p      *Pool
	req    *http.Request
	body   io.ReadCloser
	client *clientBody
	held   *transport.HeldBody
	resp   *http.Response
}

func (a *httpAttempt) try(n int, t *target) (failure, error) {
	if n > 0 && a.req.GetBody != nil {
		b, err := a.req.GetBody()
		if err != nil {
			return aborted, err
		}
		a.body = b
	}
	if n > 0 && a.held != nil {
		a.held.NextAttempt()
	}
	resp, err := a.p.send(a.req, t, a.body)
	a.resp = resp
	f := classify(a.req.Context(), resp, err)
	if err != nil && a.client.failed() {
		f = canceled // the client's body broke, not the replica
	}
	return f, err
}

func (a *httpAttempt) retryable(f failure) bool {
	return retryable(a.req, f, a.held == nil || !a.held.Touched())
}

func (a *httpAttempt) drop() {
	discard(a.resp)
	a.resp = nil
}

func (a *httpAttempt) abandon() { closeBody(a.req) }

// next picks the replica for an attempt; a breaker probe takes any replica
// when none is available.
func (p *Pool) next(ts []*target, skip excluded, now time.Duration, probe bool) int {
	i := p.pick(ts, skip, now)
	if i < 0 && probe {
		i = pickAny(ts, skip)
	}
	return i
}

// closeBody closes the body of a request that will not be sent: a
// RoundTripper must close it, even on errors.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
