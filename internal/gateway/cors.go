package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/httpx"
)

// CORS lets browsers on other origins call the API.
type CORS struct {
	// Origins allowed ("https://app.example.com"), or "*" for any; empty:
	// no CORS headers at all (same-origin only).
	Origins []string
	// Credentials lets browsers send cookies and Authorization; the
	// allowed origin is then echoed, never "*".
	Credentials bool
	// MaxAge is how long a browser may cache a preflight answer.
	MaxAge time.Duration
}

// cors is CORS ready to serve.
type cors struct {
	any         bool
	origins     map[string]bool
	credentials bool
	maxAge      string
}

// exposed are the edge's own response headers scripts may read.
const exposed = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, Deprecation, Sunset, WWW-Authenticate"

func newCORS(c CORS) cors {
	out := cors{credentials: c.Credentials, maxAge: strconv.Itoa(int(c.MaxAge / time.Second))}
	for _, o := range c.Origins {
		if o == "*" {
			out.any = true
			continue
		}
		if out.origins == nil {
			out.origins = map[string]bool{}
		}
		out.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return out
}

func (c cors) on() bool { return c.any || len(c.origins) > 0 }

// handle adds the CORS headers for an allowed origin and answers
// preflights at the edge (204, or 403 for an origin not allowed), so they
// cost no upstream a request. It reports whether it answered.
func (c cors) handle(w http.ResponseWriter, r *http.Request) bool {
	if !c.on() {
		return false
	}
	// The answer depends on Origin even when there is none (no CORS
	// headers then): a cache must not give that one to a cross-origin page.
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !c.any && !c.origins[strings.ToLower(origin)] {
		if preflight {
			w.WriteHeader(http.StatusForbidden) // no CORS headers: the browser refuses
			return true
		}
		return false
	}
	if c.any && !c.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if !preflight {
		h.Set("Access-Control-Expose-Headers", exposed)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		h.Set("Access-Control-Allow-Headers", reqHeaders)
	}
	h.Set("Access-Control-Max-Age", c.maxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// securityHeaders go on every response. HSTS only when this listener
// serves TLS itself: over plain HTTP the header is meaningless, and behind
// a TLS-terminating proxy that proxy owns the policy.
//
// The values are shared by every response instead of allocated for each:
// their capacity is their length, so that an append (the proxy adding the
// upstream's own value) copies them instead of writing to them.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	securityHeadersTo(w.Header(), r.TLS != nil)
}

// securityHeadersTo sets the security headers in h; HSTS only over TLS.
func securityHeadersTo(h http.Header, tls bool) {
	h["X-Content-Type-Options"] = nosniff[:1:1]
	h["Referrer-Policy"] = referrerPolicy[:1:1]
	if tls {
		h["Strict-Transport-Security"] = hsts[:1:1]
	}
}

var (
	nosniff        = []string{"nosniff"}
	referrerPolicy = []string{"strict-origin-when-cross-origin"}
	hsts           = []string{"max-age=63072000; includeSubDomains"}
)

// dropEdgeDuplicates removes from an upstream's response the headers the
// edge has already set to the same value — nosniff and the referrer
// policy above, and the X-Request-Id the gateway sent, which services echo
// (httpx.Stack in front of the gateway set it on the response) — since the
// proxy would add them a second time. A different value is kept beside the
// edge's (a browser applies the last Referrer-Policy it understands: the
// upstream's).
func dropEdgeDuplicates(resp *http.Response) {
	h := resp.Header
	same := func(key, value string) {
		if v := h[key]; len(v) == 1 && v[0] == value {
			delete(h, key)
		}
	}
	same("X-Content-Type-Options", nosniff[0])
	same("Referrer-Policy", referrerPolicy[0])
	if resp.Request != nil {
		if id := resp.Request.Header[httpx.HeaderRequestID]; len(id) == 1 {
			same(httpx.HeaderRequestID, id[0])
		}
	}
}

// stripUpstreamCORS drops an upstream's own CORS headers when the gateway
// answers CORS, so a response never carries two Allow-Origin values.
func stripUpstreamCORS(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
}
