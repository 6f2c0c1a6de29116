package gateway

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"

	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
)

// fastProxy is the proxy of a route whose upstream is a Pool speaking
// HTTP/1.1. A request served in the fast lane (internal/fastlane) goes
// through the pool's Forward, its answer written straight to the lane's
// response and its body streamed; any other request takes the
// httputil.ReverseProxy (slow). Both send the upstream the same request —
// the public Host, X-Forwarded-For/Host/Proto set by the gateway and never
// taken from the client, no hop-by-hop headers, the trace context — and
// give the client the same answer.
type fastProxy struct {
	slow    http.Handler
	pool    forwarder
	route   Route
	trusted []netip.Prefix
	corsOn  bool
	fail    func(http.ResponseWriter, *http.Request, error)
}

// inMemory is the largest upstream body read whole before the answer goes
// out, so that the connection returns to the pool at once; longer ones
// (and those of unknown length) are streamed.
const inMemory = 64 << 10

func (f *fastProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lane, ok := fastlane.WriterOf(w)
	if !ok {
		f.slow.ServeHTTP(w, r)
		return
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	if err := f.outgoing(out, r); err != nil {
		f.fail(w, r, err)
		return
	}
	resp := fasthttp.AcquireResponse()
	answer, err := f.pool.Forward(out, resp)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		f.fail(w, r, err)
		return
	}
	dst := lane.Response()
	edge := w.Header()
	f.copyHeaders(&resp.Header, dst.Header.AddBytesKV, func(key string, v []byte) bool {
		e := edge[key]
		return len(e) == 1 && e[0] == string(v)
	})
	status := resp.StatusCode()
	if err := deliver(dst, resp, answer, r.Method == http.MethodHead); err != nil {
		dst.Reset()
		f.fail(w, r, err)
		return
	}
	lane.SetDirect()
	w.WriteHeader(status)
}

// deliver sets the body of dst, the lane's response, from the upstream's
// answer, and releases resp and answer when done with them (at once, or
// when a streamed body ends). A body of known length up to inMemory is
// read whole, so that the connection returns to the pool before the
// client is answered; an error reading it (the upstream broke mid-body)
// is returned with nothing sent. Longer bodies, and those of unknown
// length (flushed as they come: server-sent events), are streamed.
func deliver(dst *fasthttp.Response, resp *fasthttp.Response, answer *upstream.Answer, head bool) error {
	n := resp.Header.ContentLength()
	switch {
	case head || bodyForbidden(resp.StatusCode()):
		_ = answer.Close()
		fasthttp.ReleaseResponse(resp)
		if n >= 0 {
			dst.Header.SetContentLength(n)
			dst.SkipBody = true // fasthttp would otherwise frame an empty body
		}
	case n >= 0 && n <= inMemory:
		buf := buffers.Get().(*[]byte)
		_, err := io.CopyBuffer(dst.BodyWriter(), answer, *buf)
		buffers.Put(buf)
		_ = answer.Close()
		fasthttp.ReleaseResponse(resp)
		return err
	default:
		answer.Unbound()
		dst.SetBodyStream(&streamed{answer: answer, resp: resp}, n)
		dst.ImmediateHeaderFlush = n < 0 // server-sent events: the head goes out before the first event
	}
	return nil
}

// streamed is an upstream body the lane sends as it comes; fasthttp closes
// it when the response is written (or the client is gone).
type streamed struct {
	answer *upstream.Answer
	resp   *fasthttp.Response
}

func (s *streamed) Read(b []byte) (int, error) { return s.answer.Read(b) }

func (s *streamed) Close() error {
	err := s.answer.Close()
	fasthttp.ReleaseResponse(s.resp)
	return err
}

// outgoing builds the request for the upstream from r, as seen after the
// gateway's middleware (request id set, body limited).
func (f *fastProxy) outgoing(out *fasthttp.Request, r *http.Request) error {
	out.Header.DisableNormalizing() // r's keys are canonical already
	out.Header.SetMethod(r.Method)
	u := r.URL
	if f.route.StripPrefix {
		stripped := *r.URL
		stripPrefix(&stripped, r.URL, f.route.Prefix)
		u = &stripped
	}
	out.Header.SetRequestURI(u.RequestURI()) // sent as it is: the URI is never parsed (nor normalized) again
	out.Header.SetHost(r.Host)               // services see the public host
	drop := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if hopByHop(k) || forwarded(k) || k == "Content-Length" || drop[k] {
			continue
		}
		for _, v := range vv {
			out.Header.Add(k, v)
		}
	}
	if te := r.Header.Get("Te"); strings.EqualFold(te, "trailers") {
		out.Header.Set("Te", "trailers")
	}
	client := clientAddr(r)
	if len(f.trusted) > 0 {
		client = httpx.ClientIP(r, f.trusted).String()
	}
	out.Header.Set("X-Forwarded-For", client)
	out.Header.Set("X-Forwarded-Host", r.Host)
	out.Header.Set("X-Forwarded-Proto", "http") // the lane serves plain HTTP only
	otel.GetTextMapPropagator().Inject(r.Context(), headerCarrier{&out.Header})
	if r.Body != nil && r.Body != http.NoBody {
		if _, err := io.Copy(out.BodyWriter(), r.Body); err != nil {
			return err
		}
	}
	return nil
}

// copyHeaders adds the upstream's answer headers to the lane's response,
// less what the gateway answers itself: hop-by-hop headers, CORS when the
// gateway does CORS, and security or request id headers the gateway set to
// the same value, as same reports (ModifyResponse's rules on the slow
// path).
func (f *fastProxy) copyHeaders(src *fasthttp.ResponseHeader, add func(k, v []byte), same func(key string, v []byte) bool) {
	var drop map[string]bool
	if c := src.PeekAll("Connection"); len(c) > 0 {
		drop = tokens(string(bytes.Join(c, []byte(","))))
	}
	for k, v := range src.All() {
		key := unsafeString(k) // compared, never kept
		switch {
		case hopByHop(key), key == "Content-Length", drop[key],
			f.corsOn && strings.HasPrefix(key, "Access-Control-"):
			continue
		case key == "X-Content-Type-Options" || key == "Referrer-Policy" || key == httpx.HeaderRequestID:
			if same(key, v) {
				continue
			}
		}
		add(k, v)
	}
}

// hopByHop says whether a header belongs to one connection only (RFC 9110,
// section 7.6.1), as httputil.ReverseProxy removes them.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// forwarded says whether a header is one the gateway sets itself and never
// takes from the client.
func forwarded(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip":
		return true
	}
	return false
}

// connectionTokens returns the headers the client's Connection header
// names, which are hop-by-hop too.
func connectionTokens(h http.Header) map[string]bool {
	c := h["Connection"]
	if len(c) == 0 {
		return nil
	}
	return tokens(strings.Join(c, ","))
}

func tokens(list string) map[string]bool {
	m := map[string]bool{}
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			m[http.CanonicalHeaderKey(t)] = true
		}
	}
	return m
}

// clientAddr is the TCP peer's address, as SetXForwarded takes it.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func bodyForbidden(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified || status < 200
}

// headerCarrier lets the trace propagator set headers on a fasthttp
// request.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (c headerCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	var keys []string
	for k := range c.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// forwarder is an upstream that can take the fast lane: an
// *upstream.Pool, or what embeds one.
type forwarder interface {
	Forward(*fasthttp.Request, *fasthttp.Response) (*upstream.Answer, error)
	Fast() bool
}

// fastCapable reports whether a route's upstream can take the fast lane.
func fastCapable(rt http.RoundTripper) (forwarder, bool) {
	p, ok := rt.(forwarder)
	return p, ok && p.Fast()
}
