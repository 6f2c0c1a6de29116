package gateway

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// limitBody refuses request bodies larger than max bytes (max <= 0: no
// limit) with 413 problem+json, without buffering them: a Content-Length
// above max is refused before anything is proxied, and a body of unknown
// length streams to the upstream through http.MaxBytesReader, which fails
// the upstream call once max is crossed (see isTooLarge and the proxy's
// ErrorHandler). The server then closes the client's connection.
func limitBody(max int64, next http.Handler) http.Handler {
	if max <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeTooLarge(w, r, max)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit is a route's limit: its own, else the table's default.
func bodyLimit(r Route, def int64) int64 {
	if r.MaxBody > 0 {
		return r.MaxBody
	}
	return def
}

// isTooLarge reports whether err is a request body crossing its limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// tooLargeLimit is the limit an isTooLarge error crossed.
func tooLargeLimit(err error) int64 {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe.Limit
	}
	return 0
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, max int64) {
	w.Header().Set("Connection", "close") // the rest of the body is not read
	httpx.WriteError(w, r, errs.E(errs.TooLarge, "request.too_large",
		"the request body is larger than this route accepts (%s bytes)", strconv.FormatInt(max, 10)))
}
