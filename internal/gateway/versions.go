package gateway

import (
	"net/http"
)

// versionHeaders announces a deprecated route on every response, errors
// included: "Deprecation: true" (RFC 9745's predecessor form, understood by
// the common client libraries, since the config records no deprecation
// date) and, with a Sunset, "Sunset: <HTTP-date>" (RFC 8594), the time the
// route stops answering. /v1/… and /v2/… are simply two routes, each with
// its own upstream.
func versionHeaders(r Route, next http.Handler) http.Handler {
	if !r.Deprecated && r.Sunset.IsZero() {
		return next
	}
	var sunset string
	if !r.Sunset.IsZero() {
		sunset = r.Sunset.UTC().Format(http.TimeFormat)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		if r.Deprecated {
			h.Set("Deprecation", "true")
		}
		if sunset != "" {
			h.Set("Sunset", sunset)
		}
		next.ServeHTTP(w, req)
	})
}
