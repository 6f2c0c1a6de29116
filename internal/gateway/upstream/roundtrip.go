package upstream

import (
	"fmt"
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
	now := p.now()
	admitted, probe, changed := p.breaker.admit(now)
	if changed {
		p.breakerChanged(HalfOpen)
	}
	if !admitted {
		closeBody(req)
		p.metrics.circuitOpen.Inc()
		return nil, p.errOpen
	}
	ts := *p.targets.Load()
	if len(ts) == 0 {
		closeBody(req)
		if probe {
			p.breaker.release()
		}
		p.metrics.errored.Inc()
		return nil, p.errNoTargets
	}
	p.budget.deposit(now)

	body := req.Body
	var (
		held   *transport.HeldBody
		client *clientBody
	)
	if body != nil && body != http.NoBody {
		client = &clientBody{rc: body}
		body = client
	}
	if client != nil && req.GetBody == nil {
		held = transport.HoldBody(body)
		defer held.Release()
		body = held
	}
	var (
		skip     excluded
		lastResp *http.Response
		lastErr  error
		lastF    failure
		last     *target
	)
	for attempt := 0; ; attempt++ {
		i := p.next(ts, skip, now, probe)
		if i < 0 && attempt > 0 { // the replica a retry counted on went away meanwhile
			break
		}
		if i < 0 {
			closeBody(req)
			if p.breaker.trip(now) {
				p.breakerChanged(Open)
			}
			p.metrics.circuitOpen.Inc()
			return nil, p.errOpen
		}
		skip.add(i)
		t := ts[i]
		if attempt > 0 && req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				lastErr = err
				break
			}
			body = b
		}
		if attempt > 0 && held != nil {
			held.NextAttempt()
		}
		resp, err := p.send(req, t, body)
		now = p.now()
		f := classify(req.Context(), resp, err)
		if err != nil && client.failed() {
			f = canceled // the client's body broke, not the replica
		}
		switch f {
		case none:
			p.succeeded(t, now, probe)
			p.recordOutcome(now, false, probe)
			p.metrics.ok.Inc()
			return resp, nil
		case canceled:
			if probe {
				p.breaker.release()
			}
			p.metrics.errored.Inc()
			return nil, err
		}
		p.failed(t, now)
		lastResp, lastErr, lastF, last = resp, err, f, t
		if attempt >= p.opts.Retries || !retryable(req, f, held == nil || !held.Touched()) ||
			req.Context().Err() != nil || p.next(ts, skip, now, probe) < 0 {
			break
		}
		if !p.budget.withdraw(now) {
			p.metrics.retriesDenied.Inc()
			break
		}
		p.metrics.retries[f].Inc()
		if resp != nil {
			discard(resp)
			lastResp = nil
		}
	}
	p.recordOutcome(now, true, probe)
	if lastResp != nil {
		p.metrics.failed.Inc()
		return lastResp, nil
	}
	p.metrics.errored.Inc()
	if lastErr == nil { // the answer was discarded for a retry that could not be made
		return nil, fmt.Errorf("upstream %s: no replica left to retry on: %w", p.opts.Name, ErrUnavailable)
	}
	if lastF == timeout {
		return nil, fmt.Errorf("upstream %s: %s: %w (%w)", p.opts.Name, last.raw, ErrTimeout, lastErr)
	}
	return nil, fmt.Errorf("upstream %s: %s: %w (%w)", p.opts.Name, last.raw, ErrUnavailable, lastErr)
}

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
