package gateway

import (
	"context"
	"fmt"
	"log/slog"
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

// limitStage is the limits of one route that run at one stage: before
// authentication (per IP and per route) or after it (per user and per
// key). All must allow; the RateLimit-* headers report the tighter one. A
// limiter error fails open: an outage of the limiter must not become an
// outage of the API.
type limitStage struct {
	limits []scopedLimit
	lim    ratelimit.Limiter
	log    *slog.Logger
}

type scopedLimit struct {
	Limit
	suffix                  string
	fixed                   string             // the key of a per-route limit, the same for every request
	allowed, denied, failed prometheus.Counter // resolved once, not per request
}

// limitStage returns the stage of route r's limits (the default one and
// its own) that run before authentication (pre) or after it; nil when
// there are none.
func (g *Gateway) limitStage(r Route, def Limit, pre bool) *limitStage {
	newScoped := func(l Limit, scope, suffix string) scopedLimit {
		var fixed string
		if l.Per == PerRoute {
			fixed = "route:" + routeID(r) + suffix
		}
		return scopedLimit{Limit: l, suffix: suffix, fixed: fixed,
			allowed: limitDecisions.WithLabelValues(r.Prefix, scope, "allowed"),
			denied:  limitDecisions.WithLabelValues(r.Prefix, scope, "denied"),
			failed:  limitDecisions.WithLabelValues(r.Prefix, scope, "error")}
	}
	if g.opts.Limiter == nil {
		return nil
	}
	s := &limitStage{lim: g.opts.Limiter, log: g.opts.Log}
	if def.on() && def.preAuth() == pre {
		s.limits = append(s.limits, newScoped(def, "default", ""))
	}
	if r.RateLimit.on() && r.RateLimit.preAuth() == pre {
		s.limits = append(s.limits, newScoped(r.RateLimit, "route", "|"+routeID(r)))
	}
	if len(s.limits) == 0 {
		return nil
	}
	return s
}

// decide applies the stage's limits to a request from c. When one denies
// it, denied is set and shown is that decision; else shown is the tightest
// decision to show (decided false when the limiter failed for all).
func (s *limitStage) decide(ctx context.Context, c *caller) (shown ratelimit.Decision, decided, denied bool) {
	for _, l := range s.limits {
		key := l.fixed
		if key == "" {
			key = limitKey(l.Per, c, l.suffix)
		}
		d, err := s.lim.Allow(ctx, key, l.Limit.Limit)
		if err != nil {
			l.failed.Inc()
			s.log.WarnContext(ctx, "gateway: rate limit failed; letting the request pass", "err", err)
			continue
		}
		if !d.Allowed {
			l.denied.Inc()
			return d, false, true
		}
		l.allowed.Inc()
		if !decided || d.Remaining < shown.Remaining {
			shown, decided = d, true
		}
	}
	return shown, decided, false
}

// limit wraps next in the limits of stage s (nil: none).
func limit(s *limitStage, trusted []netip.Prefix, next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := caller{req: req, trusted: trusted}
		c.principal, _ = authn.FromContext(req.Context())
		shown, decided, denied := s.decide(req.Context(), &c)
		if denied {
			ratelimit.Deny(w, req, shown)
			return
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

// caller is who a request comes from, as its buckets are named.
type caller struct {
	principal *authn.Principal // nil: anonymous
	req       *http.Request    // served by net/http: its address is httpx.ClientIP's
	peer      netip.Addr       // else the TCP peer's
	hops      []string         // and its X-Forwarded-For lines
	trusted   []netip.Prefix
}

// ip is the caller's address.
func (c *caller) ip() netip.Addr {
	if c.req != nil {
		return httpx.ClientIP(c.req, c.trusted)
	}
	return httpx.ClientIPOf(c.peer, c.hops, c.trusted)
}

// limitKey names the bucket of a request from c under the dimension per
// (not PerRoute, whose key is fixed), followed by suffix, in one
// allocation.
func limitKey(per string, c *caller, suffix string) string {
	p := c.principal
	switch {
	case per == PerKey && p != nil && p.Kind == authn.KindAPIKey:
		return "key:" + p.TokenID + suffix
	case (per == PerKey || per == PerUser) && p != nil:
		return "user:" + p.Subject + suffix
	}
	var buf [64]byte
	b := append(buf[:0], "ip:"...)
	b = appendIPBucket(b, c.ip())
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
