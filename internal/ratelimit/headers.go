package ratelimit

import (
	"net/http"
	"strconv"
	"unsafe"
)

// The names of the rate limit headers as net/http keeps them, in canonical
// form (RateLimit-Limit is sent as Ratelimit-Limit; header names are
// case-insensitive): written straight into the header map, they cost no
// canonicalisation per request.
const (
	HeaderLimit      = "Ratelimit-Limit"
	HeaderRemaining  = "Ratelimit-Remaining"
	HeaderReset      = "Ratelimit-Reset"
	headerRetryAfter = "Retry-After"
)

// headerValues holds one response's rate limit header values: the value
// slices and the digits they are made of, in one allocation.
type headerValues struct {
	slots  [4]string
	digits [4 * 20]byte // an int64 takes at most 20 characters
}

// SetHeaders writes the rate limit headers of the IETF draft
// (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit (the bucket size),
// RateLimit-Remaining (tokens left) and RateLimit-Reset (seconds until the
// bucket is full), and on a denial Retry-After (seconds until the request
// would pass, at least 1). Seconds are rounded up, so that a client that
// waits as told is not denied again. It makes one allocation.
func SetHeaders(w http.ResponseWriter, d Decision) {
	nums := [4]int64{int64(d.Limit), int64(d.Remaining), ceilSeconds(d.Reset), max(1, ceilSeconds(d.RetryAfter))}
	n := 3
	if !d.Allowed {
		n = 4
	}
	v := new(headerValues)
	b := v.digits[:0]
	var ends [4]int
	for i := range n {
		b = strconv.AppendInt(b, nums[i], 10)
		ends[i] = len(b)
	}
	// The digits are written once, above, and never again: the strings
	// may share them.
	digits := unsafe.String(unsafe.SliceData(b), len(b))
	start := 0
	for i := range n {
		v.slots[i] = digits[start:ends[i]]
		start = ends[i]
	}
	h := w.Header()
	h[HeaderLimit] = v.slots[0:1:1]
	h[HeaderRemaining] = v.slots[1:2:2]
	h[HeaderReset] = v.slots[2:3:3]
	if !d.Allowed {
		h[headerRetryAfter] = v.slots[3:4:4]
	}
}
