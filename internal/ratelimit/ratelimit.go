// Package ratelimit decides whether a request may pass, by token bucket, for
// the gateway's per-IP, per-user, per-key and per-route limits.
//
// Three limiters share one interface and one algorithm (GCRA, the generic
// cell rate algorithm: a token bucket kept as a single timestamp per key):
//
//   - Local keeps buckets in memory, in sharded LRU maps whose size is
//     bounded; a process with no Redis (a laptop) needs nothing else.
//   - Redis keeps them in Redis, updated by one atomic Lua script that reads
//     the server's clock, so N gateway replicas with skewed clocks share one
//     budget per key.
//   - Fallback is what the gateway uses: Redis while it answers, Local for
//     any decision Redis fails to make in time (no error, no waiting), and
//     Local alone once Redis has kept failing for a grace period, probing
//     Redis in the background and switching back when it answers again.
//
// While degraded, each replica limits on its own, so the combined rate can
// reach N times the limit with N replicas; FallbackOptions.LocalShare divides
// the local limits by the expected replica count to keep it near the global
// limit instead.
//
// SetHeaders and Deny turn a Decision into RateLimit-* headers and a 429
// problem. Metrics are on the default Prometheus registerer (see metrics.go).
package ratelimit

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// Limit is a token bucket: it holds at most Burst tokens and refills at Rate
// tokens per second. A request takes one token (or n, with AllowN).
type Limit struct {
	Rate  float64 // tokens per second; > 0
	Burst int     // bucket size; >= 1
}

// Decision is the answer for one request, with what the RateLimit-* headers
// report.
type Decision struct {
	Allowed bool
	// Limit is the bucket size (the Burst of the Limit applied).
	Limit int
	// Remaining is how many tokens are left after this decision.
	Remaining int
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// RetryAfter is, when denied, how long until the request would pass;
	// zero when allowed.
	RetryAfter time.Duration
}

// Limiter decides on requests identified by key under a Limit. The key names
// the bucket (e.g. "ip:203.0.113.7" or "user:123:/v1/orders/"); callers
// choose it and keep its cardinality in mind.
//
// Allow and AllowN return an Invalid error (code ratelimit.invalid_limit) for
// a Limit that is not positive or an n above its Burst. Redis also returns
// Unavailable errors when Redis fails; Local and Fallback never do.
type Limiter interface {
	// Allow takes one token from key's bucket if it has one.
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
	// AllowN takes n tokens if the bucket holds n; n = 0 only reports.
	AllowN(ctx context.Context, key string, l Limit, n int) (Decision, error)
}

// Interface checks.
var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
	_ Limiter = (*Fallback)(nil)
)

// maxTolerance bounds Burst/Rate (the time to refill a whole bucket) so that
// the nanosecond arithmetic cannot overflow: about 146 years.
const maxTolerance = float64(1 << 62)

// check validates l and n and returns the emission interval (time per token)
// in nanoseconds as a float.
func (l Limit) check(n int) (float64, error) {
	if !(l.Rate > 0) || l.Burst < 1 {
		return 0, errs.E(errs.Invalid, "ratelimit.invalid_limit",
			"rate limit needs rate > 0 and burst >= 1, got rate %g burst %d", l.Rate, l.Burst)
	}
	interval := float64(time.Second) / l.Rate
	if interval*float64(l.Burst) > maxTolerance {
		return 0, errs.E(errs.Invalid, "ratelimit.invalid_limit",
			"rate limit %g/s with burst %d takes too long to refill", l.Rate, l.Burst)
	}
	if n < 0 || n > l.Burst {
		return 0, errs.E(errs.Invalid, "ratelimit.invalid_limit",
			"cannot take %d tokens from a bucket of %d", n, l.Burst)
	}
	return interval, nil
}
