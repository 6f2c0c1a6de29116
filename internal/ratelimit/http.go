package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// CodeRateLimited is the problem code of a request denied by a rate limit.
const CodeRateLimited = "gateway.rate_limited"

// SetHeaders writes the rate limit headers of the IETF draft
// (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit (the bucket size),
// RateLimit-Remaining (tokens left) and RateLimit-Reset (seconds until the
// bucket is full), and on a denial Retry-After (seconds until the request
// would pass, at least 1). Seconds are rounded up, so that a client that
// waits as told is not denied again.
func SetHeaders(w http.ResponseWriter, d Decision) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

// Deny answers r with 429 Too Many Requests: the headers of SetHeaders and
// an application/problem+json body with code gateway.rate_limited.
func Deny(w http.ResponseWriter, r *http.Request, d Decision) {
	SetHeaders(w, d)
	httpx.WriteError(w, r, errs.E(errs.TooManyRequests, CodeRateLimited,
		"Too many requests. Retry in %d s.", max(1, ceilSeconds(d.RetryAfter))))
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
