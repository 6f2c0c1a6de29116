package fastlane

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// Writer is the http.ResponseWriter of a request served in the lane. What
// a handler writes is buffered in the fasthttp response and sent when it
// returns: there is no Flush, Hijack or 1xx in the lane (requests that
// need them are handed to net/http before they start). A handler that
// knows the lane reaches it through WriterOf and may set the fasthttp
// response itself — its headers, its body, a streamed body — then call
// WriteHeader with the status as usual so that middleware records it;
// the headers set on Header() are added when the handler returns.
type Writer struct {
	ctx    *fasthttp.RequestCtx
	header http.Header
	status int
	// direct: the body was set on Response() by the handler itself.
	direct bool
}

func (w *Writer) reset(ctx *fasthttp.RequestCtx) {
	w.ctx = ctx
	clear(w.header)
	w.status = 0
	w.direct = false
}

// Header implements http.ResponseWriter.
func (w *Writer) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; informational statuses are
// dropped (the lane sends one response per request).
func (w *Writer) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
}

// Write implements http.ResponseWriter.
func (w *Writer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.direct {
		return 0, http.ErrBodyNotAllowed
	}
	w.ctx.Response.AppendBody(b)
	return len(b), nil
}

// Flush implements http.Flusher: the body is sent when the handler
// returns.
func (w *Writer) Flush() {}

// Response is the fasthttp response the lane sends, for handlers that
// write it themselves; SetDirect says they did.
func (w *Writer) Response() *fasthttp.Response { return &w.ctx.Response }

// SetDirect records that the handler set the response body on Response()
// itself (SetBody, SetBodyStream): Write is refused from now on.
func (w *Writer) SetDirect() { w.direct = true }

// commit completes the fasthttp response once the handler has returned —
// the status, and the headers set on Header() — and returns the status.
func (w *Writer) commit() int {
	resp := &w.ctx.Response
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	resp.SetStatusCode(status)
	for k, vv := range w.header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // fasthttp frames the body itself
		}
		for _, v := range vv {
			resp.Header.Add(k, v)
		}
	}
	if v := w.header["Connection"]; len(v) > 0 && v[0] == "close" {
		w.ctx.SetConnectionClose()
	}
	if w.direct {
		return status
	}
	if w.header["Content-Type"] == nil && len(resp.Body()) > 0 {
		resp.Header.SetContentType(http.DetectContentType(resp.Body())) // as net/http's server does
	}
	if bodyForbidden(status) {
		resp.ResetBody()
	}
	return status
}

func bodyForbidden(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified
}

// WriterOf finds the lane's Writer under w, through writers that wrap
// another and say so with Unwrap (as http.ResponseController expects);
// ok is false when w is not served in the lane.
func WriterOf(w http.ResponseWriter) (*Writer, bool) {
	for {
		switch x := w.(type) {
		case *Writer:
			return x, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil, false
		}
	}
}
