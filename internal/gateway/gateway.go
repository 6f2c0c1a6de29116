// Package gateway is bam's single public entry point: it matches each
// request to a route — by path prefix (longest wins), then host and method —
// and proxies it to the service behind that route: in the same process
// through the in-process transport, or over HTTP to the service's replicas
// (an upstream.Pool) when split out, or to users' own services declared in
// bam.yaml (gateway.routes).
//
// On the way it applies the edge policies: security and CORS headers
// (cors.go), API version headers (versions.go), token and API key
// verification (edgeauth.go) and rate limits (limits.go). The route table
// and those policies form one immutable Table, swapped atomically on reload
// (reload.go): a request keeps the table it started with until it ends.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
)

// Table is everything a reload may change: the routes, the upstreams they
// name, and the edge policies. Swap replaces it as a whole.
type Table struct {
	Routes []Route
	// Upstreams are the round trippers routes name (in-process handlers,
	// pools of replicas). A route naming a missing one answers 503.
	Upstreams map[string]http.RoundTripper
	// RateLimit applies to every route; a zero Rate turns it off.
	RateLimit Limit
	// TrustedProxies are the proxies whose X-Forwarded-For the gateway
	// believes (see httpx.ClientIP); empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	CORS           CORS
	// Compress compresses responses for clients that accept it
	// (compress.go).
	Compress bool
	// MaxBody is the largest request body a route without its own
	// Route.MaxBody accepts (bodylimit.go); 0: unlimited.
	MaxBody int64
}

// Options are what stays for the gateway's life, across reloads.
type Options struct {
	Log *slog.Logger
	// Auth verifies tokens and API keys at the edge; nil: no verification,
	// and routes with Auth "required" are refused by New and Swap.
	Auth *EdgeAuth
	// Limiter decides rate limits; nil: rate limits are off.
	Limiter ratelimit.Limiter
	// Service names the gateway in metrics and logs, as httpx.Stack does
	// ("gateway").
	Service string
}

// Gateway routes and proxies requests. It is an http.Handler.
type Gateway struct {
	opts  Options
	table atomic.Pointer[table]

	// What httpx.Stack does for requests ServeNative serves itself.
	metrics   httpx.ServerMetrics
	accessLog *slog.Logger
}

// New builds a gateway serving t.
func New(t Table, opts Options) (*Gateway, error) {
	g := newGateway(opts)
	if err := g.Swap(t); err != nil {
		return nil, err
	}
	return g, nil
}

// newGateway is a gateway with no table yet.
func newGateway(opts Options) *Gateway {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Service == "" {
		opts.Service = "gateway"
	}
	return &Gateway{opts: opts, metrics: httpx.NewServerMetrics(opts.Service),
		accessLog: opts.Log.With("service", opts.Service)}
}

// Swap checks and builds t and makes it the table every new request uses;
// requests in flight finish on the old one. On error nothing changes.
func (g *Gateway) Swap(t Table) error {
	tb, err := g.build(t)
	if err != nil {
		return err
	}
	g.table.Store(tb)
	return nil
}

// Routes returns the routes served now, most specific first.
func (g *Gateway) Routes() []Route {
	t := g.table.Load()
	out := make([]Route, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.Route
	}
	return out
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.table.Load()
	securityHeaders(w, r)
	if badPath(r) { // before matching: routes compare the path as sent (pathcheck.go)
		rejectBadPath(w, r)
		return
	}
	if t.cors.handle(w, r) {
		return // a preflight, answered at the edge
	}
	e, allow := t.match(r.Method, r.Host, r.URL.Path)
	if e == nil {
		if allow != "" {
			httpx.MethodNotAllowedHandler(allow).ServeHTTP(w, r)
			return
		}
		httpx.WriteError(w, r, errs.E(errs.NotFound, "gateway.route_not_found", "no route for %s", r.URL.Path))
		return
	}
	r.Pattern = e.Prefix // the metrics and trace label: bounded, unlike the path
	e.handler.ServeHTTP(w, r)
}

// newProxy forwards to one upstream through rt, streaming both ways. With
// strip, the route's prefix is cut from the path the upstream sees.
func newProxy(name string, rt http.RoundTripper, route Route, trusted []netip.Prefix, corsOn bool, log *slog.Logger) http.Handler {
	target := &url.URL{Scheme: "http", Host: name}
	if strings.ContainsAny(name, ":/ ,") { // a user upstream's key; the pool sets the real host
		target.Host = "upstream"
	}
	slow := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if route.StripPrefix {
				stripPrefix(pr.Out.URL, pr.In.URL, route.Prefix)
			}
			pr.Out.Host = pr.In.Host // services see the public host
			pr.SetXForwarded()       // incoming X-Forwarded-* were dropped: never trust the client's
			if len(trusted) > 0 {
				pr.Out.Header.Set("X-Forwarded-For", httpx.ClientIP(pr.In, trusted).String())
			}
			// Nor the client's X-Real-IP. The gateway sends none of its own:
			// X-Forwarded-For, one address, is the client as it derived it
			// (an extra header would cost the proxy allocations per request).
			delete(pr.Out.Header, "X-Real-Ip")
		},
		ModifyResponse: func(resp *http.Response) error {
			if corsOn {
				stripUpstreamCORS(resp.Header)
			}
			dropEdgeDuplicates(resp)
			return nil
		},
		Transport:     httpx.TraceProxyTransport(rt), // the upstream call is a child span, with traceparent sent on
		FlushInterval: 0,                             // ReverseProxy flushes at once for streams (SSE, unknown length); others are buffered per write
		BufferPool:    bufferPool{},
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler:  proxyError(route),
	}
	if pool, ok := fastCapable(rt); ok {
		return &fastProxy{slow: slow, pool: pool, route: route, trusted: trusted, corsOn: corsOn, fail: slow.ErrorHandler}
	}
	return slow
}

// proxyError answers a request the upstream could not take: 413 for a body
// over the limit, 499 when the client went away, 503 for an open breaker
// (with Retry-After), 504 for a timeout, 503 otherwise.
func proxyError(route Route) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case isTooLarge(err):
			writeTooLarge(w, r, tooLargeLimit(err))
			return
		case errors.Is(err, context.Canceled):
			httpx.WriteError(w, r, errs.Wrap(err, errs.Canceled, "gateway.client_closed", "the client went away"))
			return
		case errors.Is(err, upstream.ErrCircuitOpen):
			w.Header().Set("Retry-After", "5")
			httpx.WriteError(w, r, errs.Wrap(err, errs.Unavailable, "gateway.circuit_open",
				"the upstream of "+route.Prefix+" is failing; try again shortly"))
			return
		case errors.Is(err, upstream.ErrTimeout):
			httpx.WriteError(w, r, errs.Wrap(err, errs.Timeout, "gateway.upstream_timeout",
				"the upstream of "+route.Prefix+" did not answer in time"))
			return
		}
		httpx.WriteError(w, r, errs.Wrap(err, errs.Unavailable, "gateway.upstream_unavailable",
			"the upstream of "+route.Prefix+" did not answer"))
	}
}

// stripPrefix cuts prefix from in's path into out, keeping a leading "/".
func stripPrefix(out, in *url.URL, prefix string) {
	out.Path = stripPath(in.Path, prefix)
	out.RawPath = ""
	if in.RawPath != "" {
		out.RawPath = stripPath(in.RawPath, prefix)
		if u, err := url.PathUnescape(out.RawPath); err != nil || u != out.Path {
			out.RawPath = "" // the prefix was escaped differently: fall back to the decoded path
		}
	}
}

// stripPath cuts prefix from path, keeping a leading "/".
func stripPath(path, prefix string) string {
	path = strings.TrimPrefix(path, strings.TrimSuffix(prefix, "/"))
	path = strings.TrimPrefix(path, "/")
	return "/" + path
}

// unavailable answers for an upstream this gateway has no way to reach.
func unavailable(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, errs.E(errs.Unavailable, "gateway.upstream_unavailable",
			"the %s service is not configured on this gateway", name))
	})
}

// bufferPool reuses the proxy's copy buffers instead of allocating 32 KiB
// per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// routeError names a route in a build error.
func routeError(r Route, format string, args ...any) error {
	return fmt.Errorf("gateway: route %s: %s", r.name(), fmt.Sprintf(format, args...))
}
