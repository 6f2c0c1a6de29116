package ratelimit

import (
	"net/http"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// CodeRateLimited is the problem code of a request denied by a rate limit.
const CodeRateLimited = "gateway.rate_limited"

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
