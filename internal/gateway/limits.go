package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
)

// Rate limit dimensions: what a Limit counts.
const (
	PerIP    = "ip"    // the client's address (see httpx.ClientIP)
	PerUser  = "user"  // the verified caller's subject; anonymous callers by IP
	PerKey   = "key"   // the API key; other callers by user, then IP
	PerRoute = "route" // everyone together
)

// Limit is a token bucket applied per Per. A zero Rate is no limit.
type Limit struct {
	Per string // PerIP when empty
	ratelimit.Limit
}

func (l Limit) on() bool { return l.Rate > 0 }

func (l Limit) check() error {
	switch l.Per {
	case "", PerIP, PerUser, PerKey, PerRoute:
	default:
		return fmt.Errorf("rate limit per %q: want ip, user, key or route", l.Per)
	}
	if !l.on() {
		return nil
	}
	if l.Burst < 1 {
		return fmt.Errorf("rate limit burst %d: want at least 1", l.Burst)
	}
	return nil
}

var limitDecisions = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "bam_gateway_ratelimit_decisions_total",
	Help: "Rate limit decisions at the gateway by route (matched prefix), scope (default or route) and result (allowed, denied, error).",
}, []string{"route", "scope", "result"})

// preAuth reports whether a limit counts by something known before
// authentication (the client's address, or the route as a whole). Those
// limits run before the credential is checked, so that requests with bad
// credentials — 401s — are counted too; per-user and per-key limits need
// the verified caller and run after.
func (l Limit) preAuth() bool { return l.Per == "" || l.Per == PerIP || l.Per == PerRoute }

// limit wraps next in those of the default limit and the route's own that
// run at stage pre (before authentication) or not (after it). All must
// allow; the RateLimit-* headers report the tighter one. A limiter error
// fails open: an outage of the limiter must not become an outage of the API.
func (g *Gateway) limit(r Route, def Limit, trusted []netip.Prefix, pre bool, next http.Handler) http.Handler {
	type scoped struct {
		Limit
		suffix                  string
		fixed                   string             // the key of a per-route limit, the same for every request
		allowed, denied, failed prometheus.Counter // resolved once, not per request
	}
	newScoped := func(l Limit, scope, suffix string) scoped {
		var fixed string
		if l.Per == PerRoute {
			fixed = "route:" + routeID(r) + suffix
		}
		return scoped{Limit: l, suffix: suffix, fixed: fixed,
			allowed: limitDecisions.WithLabelValues(r.Prefix, scope, "allowed"),
			denied:  limitDecisions.WithLabelValues(r.Prefix, scope, "denied"),
			failed:  limitDecisions.WithLabelValues(r.Prefix, scope, "error")}
	}
	if g.opts.Limiter == nil {
		return next
	}
	var limits []scoped
	if def.on() && def.preAuth() == pre {
		limits = append(limits, newScoped(def, "default", ""))
	}
	if r.RateLimit.on() && r.RateLimit.preAuth() == pre {
		limits = append(limits, newScoped(r.RateLimit, "route", "|"+routeID(r)))
	}
	if len(limits) == 0 {
		return next
	}
	lim := g.opts.Limiter
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var shown ratelimit.Decision
		decided := false
		for _, l := range limits {
			key := l.fixed
			if key == "" {
				key = limitKey(l.Per, req, trusted, l.suffix)
			}
			d, err := lim.Allow(req.Context(), key, l.Limit.Limit)
			if err != nil {
				l.failed.Inc()
				g.opts.Log.WarnContext(req.Context(), "gateway: rate limit failed; letting the request pass", "err", err)
				continue
			}
			if !d.Allowed {
				l.denied.Inc()
				ratelimit.Deny(w, req, d)
				return
			}
			l.allowed.Inc()
			if !decided || d.Remaining < shown.Remaining {
				shown, decided = d, true
			}
		}
		if decided && tighter(w.Header(), shown) {
			ratelimit.SetHeaders(w, shown)
		}
		next.ServeHTTP(w, req)
	})
}

// routeID names r's own buckets: routes that share a prefix but not their
// host or methods (GET /v1/orders/ at 100 rps, POST at 1) must not share a
// bucket. It is the same in every replica that has the route, so a shared
// limiter (Redis) counts it once.
func routeID(r Route) string {
	id := r.Prefix
	if r.Host != "" {
		id = strings.ToLower(r.Host) + id
	}
	if len(r.Methods) > 0 {
		id += "@" + strings.Join(r.Methods, ",")
	}
	return id
}

// limitKey names the bucket of req under the dimension per (not
// PerRoute, whose key is fixed), followed by suffix, in one allocation.
func limitKey(per string, req *http.Request, trusted []netip.Prefix, suffix string) string {
	p, _ := authn.FromContext(req.Context())
	switch {
	case per == PerKey && p != nil && p.Kind == authn.KindAPIKey:
		return "key:" + p.TokenID + suffix
	case (per == PerKey || per == PerUser) && p != nil:
		return "user:" + p.Subject + suffix
	}
	var buf [64]byte
	b := append(buf[:0], "ip:"...)
	b = appendIPBucket(b, httpx.ClientIP(req, trusted))
	return string(append(b, suffix...))
}

// appendIPBucket appends the name of the client's address for a per-IP
// limit. An IPv6 client is counted by its /64: one host usually holds a
// whole /64, and keying on /128 would give it 2^64 buckets.
func appendIPBucket(b []byte, ip netip.Addr) []byte {
	if ip.Is6() && !ip.Is4In6() {
		p, err := ip.WithZone("").Prefix(64)
		if err == nil {
			return p.AppendTo(b)
		}
	}
	return ip.AppendTo(b)
}

// tighter reports whether d leaves fewer requests than the RateLimit-*
// headers an earlier stage already set (or none were set).
func tighter(h http.Header, d ratelimit.Decision) bool {
	v := h[ratelimit.HeaderRemaining]
	if len(v) == 0 {
		return true
	}
	prev, err := strconv.Atoi(v[0])
	return err != nil || d.Remaining < prev
}
