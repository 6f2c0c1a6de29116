package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bamhq/bam/internal/httpx"
)

// bufferSize is how much body the writer holds back before it starts to
// stream; like net/http's chunking threshold, it lets small responses carry
// a Content-Length and spares them the pipe.
const bufferSize = 4 << 10

// sniffLen is how much of the body http.DetectContentType looks at.
const sniffLen = 512

var errWriteAfterReturn = errors.New("transport: Write after the handler returned")

// responseWriter is the http.ResponseWriter an in-process handler writes to.
// All its methods run on the handler's goroutine; the caller sees only the
// *http.Response sent on respond and the pipe.
type responseWriter struct {
	req    *http.Request // the caller's request, set on the response
	head   bool
	header http.Header // what the handler mutates
	status int         // 0 until WriteHeader
	sent   http.Header // header snapshot taken at WriteHeader

	buf       []byte        // body held back until committed
	headBytes int64         // body length written to a HEAD response
	committed bool          // the response head went to the caller
	finished  bool          // the handler returned
	hijacked  *upgradedConn // set by Hijack (hijack.go)

	pr      *io.PipeReader
	pw      *io.PipeWriter
	cancel  context.CancelFunc
	detach  func() bool // stops the caller's context from canceling the handler's
	respond chan result
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http
	}
	if w.status != 0 || w.finished || w.hijacked != nil {
		return // superfluous, as net/http (which also logs it)
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return // interim responses are not delivered in-process
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.hijacked != nil {
		return 0, http.ErrHijacked
	}
	if w.finished {
		return 0, errWriteAfterReturn
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		w.headBytes += int64(len(p))
		return len(p), nil
	}
	if !w.committed {
		if len(w.buf)+len(p) <= bufferSize {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.stream(); err != nil {
			return 0, err
		}
	}
	return w.pw.Write(p)
}

// Flush sends the response head and any held-back body to the caller.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if w.hijacked != nil {
		return http.ErrHijacked
	}
	if w.finished {
		return errWriteAfterReturn
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.committed {
		return nil // the pipe hands writes over synchronously
	}
	return w.stream()
}

// EnableFullDuplex reports success: in-process, the request body can always
// be read while the response is written.
func (w *responseWriter) EnableFullDuplex() error { return nil }

// SetReadDeadline bounds the reading of the request body: it is the
// caller's client's, still arriving on the connection the caller's
// request came on (httpx.WithConn), so the deadline goes there;
// http.ErrNotSupported when the caller did not come through such a server.
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	return httpx.ConnReadDeadline(w.req.Context(), t)
}

// stream commits the response with a streamed body and writes out what was
// held back.
func (w *responseWriter) stream() error {
	resp := w.response()
	resp.Body = &pipeBody{pr: w.pr, cancel: w.cancel}
	resp.ContentLength = -1
	if cl, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
		resp.ContentLength = cl
	} else if bodyAllowed(w.status) && !w.head {
		resp.TransferEncoding = []string{"chunked"}
	}
	w.committed = true
	w.respond <- result{resp: resp}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.pw.Write(w.buf)
	w.buf = nil
	return err
}

// finish ends the exchange when the handler returns or panics (p != nil).
func (w *responseWriter) finish(p any) {
	w.finished = true
	if w.hijacked != nil { // the connection is the handler's, not the writer's
		if p != nil {
			if p != http.ErrAbortHandler {
				logPanic(w.req, p)
			}
			_ = w.hijacked.Close()
		}
		return
	}
	if p != nil {
		if p != http.ErrAbortHandler {
			logPanic(w.req, p)
		}
		err := fmt.Errorf("%w: %v", ErrAborted, p)
		if w.committed {
			_ = w.pw.CloseWithError(err)
		} else {
			w.committed = true
			w.respond <- result{err: err}
		}
		return
	}
	if w.status == 0 {
		w.status, w.sent = http.StatusOK, w.header.Clone()
	}
	if w.committed {
		_ = w.pw.Close()
		return
	}
	// Everything fit in the buffer: answer with a known length, no pipe.
	resp := w.response()
	resp.Body = http.NoBody
	switch {
	case w.head:
		resp.ContentLength = w.headBytes
		if cl, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
			resp.ContentLength = cl
		}
	case bodyAllowed(w.status):
		resp.ContentLength = int64(len(w.buf))
		if len(w.buf) > 0 {
			resp.Body = io.NopCloser(bytes.NewReader(w.buf))
		}
	}
	if resp.ContentLength > 0 || (bodyAllowed(w.status) && !w.head) {
		resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.committed = true
	w.respond <- result{resp: resp}
}

// response builds the response head from the header snapshot.
func (w *responseWriter) response() *http.Response {
	h := w.sent
	if _, ok := h["Content-Type"]; !ok && len(w.buf) > 0 && bodyAllowed(w.status) {
		h.Set("Content-Type", http.DetectContentType(w.buf[:min(len(w.buf), sniffLen)]))
	}
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	return &http.Response{
		Status:     strconv.Itoa(w.status) + " " + text,
		StatusCode: w.status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Request:    w.req,
	}
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}
