package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/telemetry"
)

// ServeNative serves a request of the fast lane (internal/fastlane) with
// no net/http type on the way — no *http.Request, no middleware chain —
// when it needs nothing but what this path does, and reports whether it
// did; when it returns false it has done nothing, and the lane serves the
// request through the gateway's http.Handler. It takes:
//
//   - servers with no access log line per request (the logger above info)
//     and no span to export (telemetry.Exporting): httpx.Stack's work;
//   - requests whose route proxies to an HTTP/1.1 pool (Fast holds), with
//     no CORS request (an Origin while CORS is on), no API key, a body
//     within the route's limit;
//   - on a route that verifies tokens: no credential where that is
//     optional, or a valid bearer JWT whose caller has the route's roles
//     and permissions — a refusal (401, 403) is the chain's to explain.
//
// For those it does what the chain does — security, CORS Vary and version
// headers, the request id, both stages of rate limits with their headers,
// the forwarding (fastProxy's) and the server metrics — and answers its
// own errors (429, upstream failures) through the chain's writers, in the
// lane's net/http view. TestFastLaneMatchesNetHTTP holds the two paths to
// the same answers. The trace context travels in the request's own
// headers: no span is started.
func (g *Gateway) ServeNative(ctx *fasthttp.RequestCtx, head *fastlane.Head) bool {
	if telemetry.Exporting() || g.accessLog.Enabled(context.Background(), slog.LevelInfo) {
		return false
	}
	t := g.table.Load()
	h := &ctx.Request.Header
	if t.cors.on() && h.Peek("Origin") != nil {
		return false
	}
	e := t.fastEntry(ctx, true)
	if e == nil || e.maxBody > 0 && int64(h.ContentLength()) > e.maxBody {
		return false
	}
	var p *authn.Principal
	if e.Auth != AuthNone && g.opts.Auth != nil {
		cred, err := authn.Credential(string(h.Peek("Authorization")), string(h.Peek("X-Api-Key")))
		switch {
		case err != nil || authn.IsAPIKey(cred):
			return false
		case cred == "" && e.Auth == AuthRequired:
			return false
		case cred != "":
			if p, err = g.opts.Auth.Verifier.Verify(context.Background(), cred); err != nil || !p.Allowed(e.Roles, e.Permissions) {
				return false
			}
		}
	}
	start := time.Now()
	method := string(h.Method())
	g.metrics.Begin()
	status := http.StatusInternalServerError // if serveNative panics
	defer func() { g.metrics.End(e.Prefix, method, status, start) }()
	if !fastlane.ReadBody(ctx) { // answered: 400, or 408 at the read timeout
		status = ctx.Response.StatusCode()
		return true
	}
	status = g.serveNative(ctx, head, t, e, p)
	if status >= 500 { // the access log's line for server errors, logged at error
		g.accessLog.LogAttrs(context.Background(), slog.LevelError, "http request", slog.String("method", method),
			slog.String("route", e.Prefix), slog.String("path", string(ctx.URI().PathOriginal())),
			slog.Int("status", status), slog.Duration("duration", time.Since(start)))
	}
	return true
}

// serveNative answers a request ServeNative took and returns its status.
func (g *Gateway) serveNative(ctx *fasthttp.RequestCtx, head *fastlane.Head, t *table, e *entry, p *authn.Principal) int {
	h := &ctx.Request.Header
	edge := edgeHeaders.Get().(*headerMap)
	defer edge.release()
	id := string(h.Peek(httpx.HeaderRequestID))
	if !httpx.ValidRequestID(id) {
		id = httpx.NewRequestID()
	}
	edge.set(t, e, id)
	c := caller{principal: p, peer: remoteIP(ctx), trusted: t.trusted}
	if len(t.trusted) > 0 {
		c.hops = peekAll(h, "X-Forwarded-For")
	}
	for _, stage := range [...]*limitStage{e.preLimits, e.postLimits} {
		if stage == nil {
			continue
		}
		d, decided, denied := stage.decide(context.Background(), &c)
		if denied {
			return edge.answer(ctx, id, func(w http.ResponseWriter, r *http.Request) { ratelimit.Deny(w, r, d) })
		}
		if decided && tighter(edge.h, d) {
			ratelimit.SetHeaders(edge, d)
		}
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	e.proxy.outgoingNative(out, ctx, head, id, &c)
	resp := fasthttp.AcquireResponse()
	answer, err := e.proxy.pool.Forward(out, resp)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		return edge.answer(ctx, id, func(w http.ResponseWriter, r *http.Request) { e.proxy.fail(w, r, err) })
	}
	if t.compress && len(h.Peek("Accept-Encoding")) > 0 && !leftPlain(resp.StatusCode(), answerHead(&resp.Header)) {
		return edge.compressed(ctx, e, resp, answer) // compress may encode it: let it decide
	}
	dst := &ctx.Response
	for k, vv := range edge.h {
		for _, v := range vv {
			dst.Header.Add(k, v)
		}
	}
	e.proxy.copyHeaders(&resp.Header, dst.Header.AddBytesKV, func(key string, v []byte) bool {
		return bytes.Equal(dst.Header.Peek(key), v)
	})
	status := resp.StatusCode()
	if err := deliver(dst, resp, answer, h.IsHead()); err != nil {
		dst.Reset()
		return edge.answer(ctx, id, func(w http.ResponseWriter, r *http.Request) { e.proxy.fail(w, r, err) })
	}
	dst.SetStatusCode(status)
	return status
}

// outgoingNative builds the upstream's request from the lane's, as
// outgoing does from an *http.Request: the same headers but hop-by-hop and
// forwarding ones, the request id id, X-Forwarded-* from c. head is the
// request's fields as sent.
func (f *fastProxy) outgoingNative(out *fasthttp.Request, ctx *fasthttp.RequestCtx, head *fastlane.Head, id string, c *caller) {
	in := &ctx.Request.Header
	out.Header.DisableNormalizing()
	out.Header.SetMethodBytes(in.Method())
	uri := in.RequestURI()
	if f.route.StripPrefix { // the raw path is the decoded one: Fast refuses escapes
		path, query := uri, []byte(nil)
		if i := bytes.IndexByte(uri, '?'); i >= 0 {
			path, query = uri[:i], uri[i:]
		}
		u := stripPath(string(path), f.route.Prefix)
		out.Header.SetRequestURI(u + string(query))
	} else {
		out.Header.SetRequestURIBytes(uri)
	}
	out.Header.SetHostBytes(in.Host())
	var drop map[string]bool
	if conn := in.PeekAll("Connection"); len(conn) > 0 {
		drop = tokens(string(bytes.Join(conn, []byte(","))))
	}
	for k, v := range head.All() {
		key := unsafeString(k) // compared, never kept
		if key == "Host" || hopByHop(key) || forwarded(key) || key == "Content-Length" ||
			key == httpx.HeaderRequestID || drop[key] {
			continue
		}
		out.Header.AddBytesKV(k, v)
	}
	if te := in.Peek("Te"); bytes.EqualFold(te, []byte("trailers")) {
		out.Header.Set("Te", "trailers")
	}
	out.Header.Set(httpx.HeaderRequestID, id)
	client := c.peer.String()
	if len(f.trusted) > 0 {
		client = c.ip().String()
	}
	out.Header.Set("X-Forwarded-For", client)
	out.Header.SetBytesV("X-Forwarded-Host", in.Host())
	out.Header.Set("X-Forwarded-Proto", "http")
	if body := ctx.Request.Body(); len(body) > 0 {
		out.SetBodyRaw(body)
	}
}

// headerMap is the edge's own response headers for one request, written by
// the same functions as on the chain (they take an http.Header or a
// ResponseWriter), pooled.
type headerMap struct{ h http.Header }

var edgeHeaders = sync.Pool{New: func() any { return &headerMap{h: make(http.Header, 8)} }}

func (m *headerMap) release() {
	clear(m.h)
	edgeHeaders.Put(m)
}

// Header, Write and WriteHeader let ratelimit.SetHeaders write m.
func (m *headerMap) Header() http.Header       { return m.h }
func (m *headerMap) Write([]byte) (int, error) { return 0, http.ErrBodyNotAllowed }
func (m *headerMap) WriteHeader(int)           {}

// set writes what the chain sets before the proxy: security headers, Vary
// for CORS and compression (compress sets it for every answer), the
// route's version headers, the request id.
func (m *headerMap) set(t *table, e *entry, id string) {
	securityHeadersTo(m.h, false) // the lane serves plain HTTP only
	if t.cors.on() {
		m.h.Add("Vary", "Origin")
	}
	if t.compress {
		addVary(m.h)
	}
	setVersionHeaders(m.h, e.Route, e.sunset)
	m.h[httpx.HeaderRequestID] = []string{id}
}

// answer writes the response through the lane's net/http view, with m's
// headers and the request id in the request's context (for the problem's
// requestId), and returns its status.
func (m *headerMap) answer(ctx *fasthttp.RequestCtx, id string, write http.HandlerFunc) int {
	return fastlane.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range m.h {
			h[k] = v
		}
		write(w, r.WithContext(telemetry.WithRequestID(r.Context(), id)))
	}))
}

// compressed answers a client that accepts a compressed answer: the
// upstream's answer goes through the chain's compress (gzip, zstd, brotli
// as the client prefers, for the types and sizes worth it), run by
// fasthttpadaptor, which streams what it flushes. It returns the status.
func (m *headerMap) compressed(ctx *fasthttp.RequestCtx, e *entry, resp *fasthttp.Response, answer *upstream.Answer) int {
	status := resp.StatusCode()
	head := ctx.IsHead()
	answer.Unbound() // compress may stream it
	h := compress(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		defer fasthttp.ReleaseResponse(resp)
		defer answer.Close()
		wh := w.Header()
		for k, v := range m.h {
			if k == "Vary" {
				v = slices.DeleteFunc(slices.Clone(v), func(s string) bool { return s == "Accept-Encoding" })
			}
			wh[k] = append(wh[k], v...) // after what compress set: its own Vary
		}
		e.proxy.copyHeaders(&resp.Header, func(k, v []byte) { wh.Add(string(k), string(v)) },
			func(key string, v []byte) bool { e := wh[key]; return len(e) == 1 && e[0] == string(v) })
		if n := resp.Header.ContentLength(); n >= 0 {
			wh.Set("Content-Length", strconv.Itoa(n)) // as the proxy passes it: compress decides with it
		}
		w.WriteHeader(status)
		if head || bodyForbidden(status) {
			return
		}
		buf := buffers.Get().(*[]byte)
		defer buffers.Put(buf)
		for {
			n, err := answer.Read(*buf)
			if n > 0 {
				if _, werr := w.Write((*buf)[:n]); werr != nil {
					return
				}
				if resp.Header.ContentLength() < 0 {
					w.(http.Flusher).Flush() // a stream: each piece as it comes
				}
			}
			if err != nil {
				return
			}
		}
	}))
	fasthttpadaptor.NewFastHTTPHandler(h)(ctx)
	return status
}

// answerHead is what leftPlain reads of an upstream's answer head.
func answerHead(h *fasthttp.ResponseHeader) http.Header {
	out := http.Header{}
	for _, k := range [...]string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Range", "Cache-Control"} {
		for _, v := range h.PeekAll(k) {
			out.Add(k, string(v))
		}
	}
	if n := h.ContentLength(); n >= 0 {
		out.Set("Content-Length", strconv.Itoa(n))
	}
	return out
}

// fastEntry is the route of a request the lane may serve, or nil; with
// encoded, also when the client accepts a compressed answer (ServeNative
// compresses through fasthttpadaptor, which streams; the lane's
// http.Handler view would buffer it whole).
func (t *table) fastEntry(ctx *fasthttp.RequestCtx, encoded bool) *entry {
	h := &ctx.Request.Header
	if !encoded && t.compress && len(h.Peek("Accept-Encoding")) > 0 {
		return nil
	}
	uri := h.RequestURI()
	if len(uri) == 0 || uri[0] != '/' { // absolute-form or *: net/http's
		return nil
	}
	path := ctx.URI().PathOriginal()
	// An escaped path is net/http's to decode; one badPath refuses is its
	// to refuse. /docs and /openapi.json are the docs' (Docs.Wrap), and a
	// client asking for server-sent events stays on net/http, which sees
	// it leave (the lane would notice only at the next event).
	if len(path) == 0 || bytes.IndexByte(path, '%') >= 0 || badPathOf(unsafeString(path), "") ||
		docsPath(unsafeString(path)) || bytes.Contains(h.Peek("Accept"), []byte("text/event-stream")) {
		return nil
	}
	e, _ := t.match(unsafeString(h.Method()), unsafeString(h.Host()), unsafeString(path))
	if e == nil || !e.fast {
		return nil
	}
	return e
}

// remoteIP is the TCP peer's address.
func remoteIP(ctx *fasthttp.RequestCtx) netip.Addr {
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap()
}

// peekAll returns every value of the header key.
func peekAll(h *fasthttp.RequestHeader, key string) []string {
	var out []string
	for _, v := range h.PeekAll(key) {
		out = append(out, string(v))
	}
	return out
}
