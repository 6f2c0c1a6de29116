package gateway

import (
	"cmp"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Policy is a route's authentication at the edge.
type Policy string

// Policies. The zero Policy is AuthOptional.
const (
	// AuthNone passes every request on unchecked (the upstream still
	// receives the Authorization header as sent).
	AuthNone Policy = "none"
	// AuthOptional lets anonymous requests through but answers 401 to an
	// invalid credential, before it reaches the upstream.
	AuthOptional Policy = "optional"
	// AuthRequired answers 401 to anonymous requests too.
	AuthRequired Policy = "required"
)

// Route sends matching requests to Upstream.
type Route struct {
	Prefix   string   // "/v1/auth/"; a prefix ending in "/" also matches the path without it
	Upstream string   // the name of an upstream in Table.Upstreams, e.g. "auth"
	Host     string   // "" any host; else compared without port, case-insensitively
	Methods  []string // empty: any method

	// StripPrefix cuts Prefix from the path the upstream sees
	// (/v1/orders/42 → /42).
	StripPrefix bool
	Auth        Policy
	Roles       []string // any of them (implies AuthRequired)
	Permissions []string // all of them (implies AuthRequired)
	// RateLimit applies to this route on top of Table.RateLimit.
	RateLimit Limit
	// Deprecated and Sunset announce the route's retirement (versions.go).
	Deprecated bool
	Sunset     time.Time

	// Builtin marks a service's own route. A user route whose prefix falls
	// inside a built-in one (equal or longer) would take requests from the
	// service; Swap refuses that unless the user route sets Override.
	Builtin  bool
	Override bool
	// MaxBody is the largest request body accepted, in bytes (0:
	// Table.MaxBody).
	MaxBody int64
	// Name identifies the route in errors and logs (default: its prefix).
	Name string
}

func (r Route) name() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Prefix
}

// matchesPath reports whether path falls under the route's prefix. A
// prefix without a trailing "/" matches only at a segment boundary: /api
// matches /api and /api/x, not /apix.
func (r Route) matchesPath(path string) bool {
	if !strings.HasPrefix(path, r.Prefix) {
		return strings.HasSuffix(r.Prefix, "/") && path == r.Prefix[:len(r.Prefix)-1]
	}
	return len(path) == len(r.Prefix) || strings.HasSuffix(r.Prefix, "/") || path[len(r.Prefix)] == '/'
}

// entry is a route as served: its handler chain built once per table.
type entry struct {
	Route
	handler http.Handler
	fast    bool // its upstream can take the fast lane (fastlane.go)

	// What ServeNative needs, made once (native.go).
	proxy                 *fastProxy // nil unless fast
	maxBody               int64
	sunset                string
	preLimits, postLimits *limitStage
}

// table is a built Table: entries most specific first.
type table struct {
	entries  []*entry
	cors     cors
	compress bool
	trusted  []netip.Prefix
}

// order sorts routes most specific first: longer prefix, then with a
// host, then with methods, then a user route before a built-in one it
// overrides.
func order(a, b Route) int {
	if c := cmp.Compare(len(b.Prefix), len(a.Prefix)); c != 0 {
		return c
	}
	if c := boolCmp(a.Host != "", b.Host != ""); c != 0 {
		return c
	}
	if c := boolCmp(len(a.Methods) > 0, len(b.Methods) > 0); c != 0 {
		return c
	}
	return boolCmp(!a.Builtin, !b.Builtin)
}

// boolCmp orders true before false.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// checkRoutes refuses what cannot be served: bad prefixes, duplicates, and
// user routes shadowing built-in ones without Override.
func checkRoutes(routes []Route) error {
	seen := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Prefix, "/") {
			return routeError(r, "prefix %q must start with /", r.Prefix)
		}
		id := strings.ToLower(r.Host) + " " + r.Prefix + " " + strings.Join(r.Methods, ",")
		if seen[id] {
			return routeError(r, "prefix %q declared twice for the same host and methods", r.Prefix)
		}
		seen[id] = true
		if r.Builtin || r.Override {
			continue
		}
		for _, b := range routes {
			if b.Builtin && b.matchesPath(r.Prefix) && (b.Host == "" || strings.EqualFold(b.Host, r.Host)) {
				return routeError(r, "shadows the built-in route %s of the %s service; "+
					"choose another path, or set override: true to take those requests", b.Prefix, b.Upstream)
			}
		}
	}
	return nil
}

// match finds the entry for a request. When routes match the path and host
// but none the method, it returns nil and the methods they allow.
func (t *table) match(method, host, path string) (*entry, string) {
	// Split only a host that ends in a port: SplitHostPort allocates its
	// error, and every request to :80/:443 sends a Host without one.
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	// Routes written for exactly the path come first: /admin/ also
	// matches /admin (its trailing slash left out) and sorts before
	// /admin, but a route for /admin itself must win there.
	var allow []string
	for _, exact := range []bool{true, false} {
		for _, e := range t.entries {
			if exact && e.Prefix != path || !e.matchesPath(path) ||
				(e.Host != "" && !strings.EqualFold(e.Host, host)) {
				continue
			}
			if len(e.Methods) == 0 || slices.Contains(e.Methods, method) ||
				(method == http.MethodHead && slices.Contains(e.Methods, http.MethodGet)) {
				return e, ""
			}
			allow = append(allow, e.Methods...)
		}
	}
	slices.Sort(allow)
	return nil, strings.Join(slices.Compact(allow), ", ")
}

// Match returns the route a request with method, host and path goes to.
func (g *Gateway) Match(method, host, path string) (Route, bool) {
	e, _ := g.table.Load().match(method, host, path)
	if e == nil {
		return Route{}, false
	}
	return e.Route, true
}

// build checks t and builds each route's handler chain: version headers,
// then the per-IP and per-route rate limits, then authentication, then the
// per-user and per-key limits, then the proxy.
func (g *Gateway) build(t Table) (*table, error) {
	routes := slices.Clone(t.Routes)
	if err := checkRoutes(routes); err != nil {
		return nil, err
	}
	if err := t.RateLimit.check(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(routes, order)
	tb := &table{cors: newCORS(t.CORS), compress: t.Compress, trusted: t.TrustedProxies}
	for _, r := range routes {
		if len(r.Roles) > 0 || len(r.Permissions) > 0 {
			r.Auth = AuthRequired
		}
		if r.Auth == "" {
			r.Auth = AuthOptional
		}
		if err := r.RateLimit.check(); err != nil {
			return nil, routeError(r, "%v", err)
		}
		var h http.Handler
		e := &entry{maxBody: bodyLimit(r, t.MaxBody), sunset: sunsetOf(r),
			preLimits: g.limitStage(r, t.RateLimit, true), postLimits: g.limitStage(r, t.RateLimit, false)}
		if rt, ok := t.Upstreams[r.Upstream]; ok {
			h = newProxy(r.Upstream, rt, r, t.TrustedProxies, tb.cors.on(), g.opts.Log)
			e.proxy, e.fast = h.(*fastProxy)
			h = limitBody(e.maxBody, h)
		} else {
			h = unavailable(r.Upstream)
		}
		h = limit(e.postLimits, t.TrustedProxies, h) // per user and key: needs the verified caller
		h, err := g.authenticate(r, t.TrustedProxies, h)
		if err != nil {
			return nil, err
		}
		h = limit(e.preLimits, t.TrustedProxies, h) // per IP and route: 401s count too
		h = versionHeaders(r, h)
		if t.Compress {
			h = compress(h)
		}
		e.Route, e.handler = r, h
		tb.entries = append(tb.entries, e)
	}
	return tb, nil
}
