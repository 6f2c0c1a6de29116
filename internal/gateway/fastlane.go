package gateway

import (
	"unsafe"

	"github.com/valyala/fasthttp"
)

// Fast is the gateway's predicate for the fast lane (internal/fastlane):
// a request goes there when its route proxies to a Pool that speaks
// HTTP/1.1 (fastProxy) and nothing on its way needs net/http — a response
// to compress (the client accepts an encoding and compression is on). A
// path that is escaped or has dot segments is left to net/http, which
// decodes it the way routes are matched (and refuses what pathcheck.go
// refuses); so is everything else: the built-in services in this process,
// the docs, unmatched paths.
func (g *Gateway) Fast(ctx *fasthttp.RequestCtx) bool {
	return g.table.Load().fastEntry(ctx, false) != nil
}

// unsafeString views b as a string for a lookup that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
