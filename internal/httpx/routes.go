package httpx

import (
	"net/http"
	"strings"
)

// ProblemMux returns a handler that serves requests through mux, except that
// requests matching no pattern get a 404 or 405 problem instead of
// ServeMux's text/plain answers. Stack applies it to a *http.ServeMux
// automatically.
func ProblemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || r.RequestURI == "*" {
			mux.ServeHTTP(w, r)
			return
		}
		// Unmatched: ask ServeMux's own handler which of 404 or 405 it would
		// send, and with which Allow header, without letting it write.
		var probe statusProbe
		h.ServeHTTP(&probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			MethodNotAllowedHandler(splitAllow(probe.header.Get("Allow"))...).ServeHTTP(w, r)
			return
		}
		NotFoundHandler().ServeHTTP(w, r)
	})
}

func splitAllow(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ", ")
}

// statusProbe records the status and headers a handler writes and discards
// the body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}

func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
