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
	sunset := sunsetOf(r)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		setVersionHeaders(w.Header(), r, sunset)
		next.ServeHTTP(w, req)
	})
}

// sunsetOf is r's Sunset header value, "" without one.
func sunsetOf(r Route) string {
	if r.Sunset.IsZero() {
		return ""
	}
	return r.Sunset.UTC().Format(http.TimeFormat)
}

// setVersionHeaders sets r's Deprecation and Sunset (sunsetOf) in h.
func setVersionHeaders(h http.Header, r Route, sunset string) {
	if r.Deprecated {
		h.Set("Deprecation", "true")
	}
	if sunset != "" {
		h.Set("Sunset", sunset)
	}
}
