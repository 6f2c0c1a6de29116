package httpx

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
)

// exchange is what the middlewares learn about one request as it is served:
// the final status, the bytes written and the matched route pattern. It is
// also the ResponseWriter that records them: Stack wraps the server's writer
// once, and the middlewares inside that receive this same writer share the
// record instead of wrapping again. It carries the logger Stack was given,
// for WriteError.
//
// It is also the request's context from Stack inward: the parent context
// with the exchange as a value, so that the record, its writer and its
// context value are one allocation.
type exchange struct {
	context.Context
	rw      http.ResponseWriter // the writer it wraps
	w       http.ResponseWriter // itself, as handed to handlers (see wrap)
	status  int                 // 0 until the header is written
	bytes   int64
	pattern string
	logger  *slog.Logger
}

type exchangeKey struct{}

// newExchange starts the record of a request whose context is ctx and
// whose answer goes to w.
func newExchange(ctx context.Context, w http.ResponseWriter, logger *slog.Logger) *exchange {
	x := &exchange{Context: ctx, logger: logger}
	x.wrap(w)
	return x
}

// Value makes the exchange a context that carries itself.
func (x *exchange) Value(key any) any {
	if key == (exchangeKey{}) {
		return x
	}
	return x.Context.Value(key)
}

// observe returns w and r instrumented to fill an exchange, reusing the one
// already set up by an outer middleware when w is its writer.
func observe(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, *exchange) {
	if x, ok := r.Context().Value(exchangeKey{}).(*exchange); ok && x.w == w {
		return w, r, x
	}
	x := newExchange(r.Context(), w, nil)
	return x.w, r.WithContext(x), x
}

// wrap makes x record what is written to rw. The writer handed on keeps
// the optional interfaces handlers and http.ResponseController use —
// Flusher (SSE), Hijacker (WebSocket upgrades; only when rw has it, so that
// an HTTP/2 writer does not claim it), io.ReaderFrom — and Unwrap, through
// which ResponseController reaches deadlines and full duplex. Both shapes
// are one pointer: handing either on allocates nothing.
func (x *exchange) wrap(rw http.ResponseWriter) {
	x.rw = rw
	if _, ok := rw.(http.Hijacker); ok {
		x.w = hijackable{x}
	} else {
		x.w = x
	}
}

func (x *exchange) Header() http.Header { return x.rw.Header() }

func (x *exchange) WriteHeader(code int) {
	// 1xx other than 101 are interim; the final status follows.
	if x.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		x.status = code
	}
	x.rw.WriteHeader(code)
}

func (x *exchange) Write(b []byte) (int, error) {
	x.implicitOK()
	n, err := x.rw.Write(b)
	x.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the server's sendfile path for handlers that io.Copy a
// file into the response.
func (x *exchange) ReadFrom(src io.Reader) (int64, error) {
	x.implicitOK()
	var n int64
	var err error
	if rf, ok := x.rw.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{x.rw}, src)
	}
	x.bytes += n
	return n, err
}

// FlushError is what http.ResponseController.Flush calls.
func (x *exchange) FlushError() error {
	x.implicitOK()
	return http.NewResponseController(x.rw).Flush()
}

// Flush implements http.Flusher for handlers that assert it.
func (x *exchange) Flush() { _ = x.FlushError() }

// Unwrap lets http.ResponseController reach the server's writer.
func (x *exchange) Unwrap() http.ResponseWriter { return x.rw }

// hijackable is an exchange whose writer can be hijacked.
type hijackable struct{ *exchange }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := h.rw.(http.Hijacker).Hijack()
	if err == nil && h.status == 0 {
		h.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// writerOnly hides a writer's ReadFrom, so that io.Copy does not call it
// back.
type writerOnly struct{ io.Writer }

func (x *exchange) implicitOK() {
	if x.status == 0 {
		x.status = http.StatusOK
	}
}

// served records what the handler learned from r, the request the middleware
// passed on: ServeMux sets r.Pattern on the request it is given, so the
// innermost middleware sees it and the outer ones read it from here.
func (x *exchange) served(r *http.Request) {
	if x.pattern == "" {
		x.pattern = r.Pattern
	}
}

// route is the metric and span label for the request: the matched pattern,
// never the raw path, so that label cardinality stays bounded.
func (x *exchange) route() string {
	if x.pattern == "" {
		return "unmatched"
	}
	return x.pattern
}

// finalStatus is the status the client got: 200 when the handler wrote
// nothing, as net/http does.
func (x *exchange) finalStatus() int {
	if x.status == 0 {
		return http.StatusOK
	}
	return x.status
}

// loggerFrom returns the logger Stack was given, or slog.Default() for a
// request that did not come through Stack.
func loggerFrom(ctx context.Context) *slog.Logger {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok && x.logger != nil {
		return x.logger
	}
	return slog.Default()
}
