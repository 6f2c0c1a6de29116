package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The retry policy is documented on Pool.RoundTrip; this file holds its
// parts: how an attempt failed, whether that may be retried, the budget,
// and the body that survives a failed dial.

// failure is how an attempt went wrong; none is a usable answer.
type failure int

const (
	none      failure = iota
	dial              // no connection: nothing was sent
	broken            // connection lost before a response
	timeout           // no response headers within Timeout
	badStatus         // 502, 503 or 504
	canceled          // the caller gave up: not the replica's fault
	aborted           // the attempt could not be made (its body could not be replayed)
)

func (f failure) String() string {
	return [...]string{"ok", "connect", "broken", "timeout", "status", "canceled", "aborted"}[f]
}

func classify(ctx context.Context, resp *http.Response, err error) failure {
	if err == nil {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return badStatus
		}
		return none
	}
	if ctx.Err() != nil {
		return canceled
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return dial
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return timeout
	}
	return broken
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// retryable says whether a request that failed with f may go again.
// untouched says that its held body (if any) was never read.
func retryable(req *http.Request, f failure, untouched bool) bool {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	switch f {
	case dial:
		return replayable || untouched
	case broken, timeout, badStatus:
		return replayable && idempotent(req)
	}
	return false
}

// budget is a token bucket of retries: every request adds Ratio of a
// token, time adds MinPerSecond per second, each retry takes one.
type budget struct {
	ratio, perSecond, max float64

	mu     sync.Mutex
	tokens float64
	last   time.Duration
}

func newBudget(o RetryBudget, now time.Duration) *budget {
	b := &budget{ratio: max(o.Ratio, 0), perSecond: max(o.MinPerSecond, 0), last: now}
	b.max = max(10, 10*b.perSecond)
	b.tokens = b.perSecond // one second's worth to start with
	return b
}

func (b *budget) refill(now time.Duration) {
	if d := now - b.last; d > 0 {
		b.tokens = min(b.max, b.tokens+d.Seconds()*b.perSecond)
		b.last = now
	}
}

// deposit counts a request.
func (b *budget) deposit(now time.Duration) {
	b.mu.Lock()
	b.refill(now)
	b.tokens = min(b.max, b.tokens+b.ratio)
	b.mu.Unlock()
}

// withdraw takes a retry's token, if there is one.
func (b *budget) withdraw(now time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// discard drains a little of a response that will not be used, so its
// connection can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}
