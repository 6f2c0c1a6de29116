package fastlane

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sync"

	"github.com/valyala/fasthttp"
)

// exchange is one request served in the lane: the *http.Request the
// handler sees and the Writer it answers through, pooled.
type exchange struct {
	req  http.Request
	body bytes.Reader
	w    Writer
}

var exchanges = sync.Pool{New: func() any {
	x := &exchange{}
	x.w.header = make(http.Header, 8)
	return x
}}

// acquireExchange builds the net/http view of ctx's request: what net/http's
// server would have parsed, from the bytes fasthttp already read.
func acquireExchange(ctx *fasthttp.RequestCtx, head *Head) *exchange {
	x := exchanges.Get().(*exchange)
	h := &ctx.Request.Header
	r := &x.req
	*r = http.Request{
		Method:     method(h.Method()),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       string(h.Host()),
		RequestURI: string(h.RequestURI()),
		RemoteAddr: ctx.RemoteAddr().String(),
		Close:      h.ConnectionClose(),
	}
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil { // fasthttp accepted what url does not: keep the path as sent
		u = &url.URL{Path: r.RequestURI}
	}
	r.URL = u
	r.Header = make(http.Header, 8)
	for k, v := range head.All() { // as sent: fasthttp's All would re-encode cookies
		key := headerKey(k)
		if key == "Host" {
			continue // net/http keeps it in r.Host only
		}
		r.Header[key] = append(r.Header[key], string(v))
	}
	body := ctx.Request.Body()
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	} else {
		x.body.Reset(body)
		r.Body = bodyReader{&x.body}
		r.GetBody = nil
	}
	// Not ctx itself: a RequestCtx is recycled, and its Done is the
	// server's shutdown, which must not cancel the requests it drains.
	r = r.WithContext(context.Background())
	x.req = *r
	x.w.reset(ctx)
	return x
}

func releaseExchange(x *exchange) {
	x.req = http.Request{}
	x.body.Reset(nil)
	x.w.reset(nil)
	exchanges.Put(x)
}

// bodyReader is the request body as net/http hands it: a ReadCloser.
type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// method returns m as a string, without allocating for the usual ones.
func method(m []byte) string {
	for _, k := range [...]string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut,
		http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		if string(m) == k {
			return k
		}
	}
	return string(m)
}

// commonKeys are header names interned, as net/http's reader does.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Host",
		"If-Match", "If-Modified-Since", "If-None-Match", "Origin", "Referer", "User-Agent",
		"X-Api-Key", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id",
		"Traceparent", "Tracestate", "Idempotency-Key", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-Dest", "Upgrade", "Expect", "Range"} {
		m[k] = k
	}
	return m
}()

// headerKey is k in canonical form (fasthttp has normalized it already).
func headerKey(k []byte) string {
	if s, ok := commonKeys[string(k)]; ok {
		return s
	}
	return http.CanonicalHeaderKey(string(k))
}
