// Package gateway is bam's single public entry point: it matches each
// request to a route by path prefix (longest wins) and proxies it to the
// service behind that route — in the same process through the in-process
// transport, or over HTTP to the service's replicas when split out.
//
// This is the routing core; authentication at the edge, rate limits, load
// balancing with health checks, retries and hot reload build on it.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
)

// Route sends requests whose path starts with Prefix to Upstream.
type Route struct {
	Prefix   string // "/v1/auth/"; a prefix ending in "/" also matches the path without it
	Upstream string // the name of an upstream, e.g. "auth"
}

// Gateway routes and proxies requests. It is an http.Handler.
type Gateway struct {
	routes  []Route // longest prefix first
	proxies map[string]http.Handler
}

// New builds a gateway over upstreams, each an http.RoundTripper (in-process
// or to replicas). A route naming an upstream that is missing answers 503,
// so a split deployment with a service not yet configured fails clearly.
func New(routes []Route, upstreams map[string]http.RoundTripper, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{proxies: map[string]http.Handler{}}
	seen := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("gateway: route prefix %q must start with /", r.Prefix)
		}
		if seen[r.Prefix] {
			return nil, fmt.Errorf("gateway: route prefix %q declared twice", r.Prefix)
		}
		seen[r.Prefix] = true
		g.routes = append(g.routes, r)
		if _, done := g.proxies[r.Upstream]; done {
			continue
		}
		if rt, ok := upstreams[r.Upstream]; ok {
			g.proxies[r.Upstream] = newProxy(r.Upstream, rt, log)
		} else {
			g.proxies[r.Upstream] = unavailable(r.Upstream)
		}
	}
	slices.SortStableFunc(g.routes, func(a, b Route) int { return cmp.Compare(len(b.Prefix), len(a.Prefix)) })
	return g, nil
}

// Match returns the route for path, longest prefix first.
func (g *Gateway) Match(path string) (Route, bool) {
	for _, r := range g.routes {
		if strings.HasPrefix(path, r.Prefix) || (strings.HasSuffix(r.Prefix, "/") && path == strings.TrimSuffix(r.Prefix, "/")) {
			return r, true
		}
	}
	return Route{}, false
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := g.Match(r.URL.Path)
	if !ok {
		httpx.WriteError(w, r, errs.E(errs.NotFound, "gateway.route_not_found", "no route for %s", r.URL.Path))
		return
	}
	r.Pattern = route.Prefix // the metrics and trace label: bounded, unlike the path
	g.proxies[route.Upstream].ServeHTTP(w, r)
}

// newProxy forwards to one upstream through rt, streaming both ways.
func newProxy(name string, rt http.RoundTripper, log *slog.Logger) http.Handler {
	target := &url.URL{Scheme: "http", Host: name}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // services see the public host
			pr.SetXForwarded()       // incoming X-Forwarded-* were dropped: never trust the client's
		},
		Transport:     otelhttp.NewTransport(rt), // the upstream call is a child span, with traceparent sent on
		FlushInterval: -1,                        // flush at once: SSE and streamed downloads pass through
		BufferPool:    bufferPool{},
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, context.Canceled):
				httpx.WriteError(w, r, errs.Wrap(err, errs.Canceled, "gateway.client_closed", "the client went away"))
				return
			case errors.Is(err, upstream.ErrCircuitOpen):
				w.Header().Set("Retry-After", "5")
				httpx.WriteError(w, r, errs.Wrap(err, errs.Unavailable, "gateway.circuit_open",
					"the "+name+" service is failing; try again shortly"))
				return
			case errors.Is(err, upstream.ErrTimeout):
				httpx.WriteError(w, r, errs.Wrap(err, errs.Timeout, "gateway.upstream_timeout",
					"the "+name+" service did not answer in time"))
				return
			}
			httpx.WriteError(w, r, errs.Wrap(err, errs.Unavailable, "gateway.upstream_unavailable",
				"the "+name+" service did not answer"))
		},
	}
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
