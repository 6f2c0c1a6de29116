package httpx

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/felixge/httpsnoop"
)

// exchange is what the middlewares learn about one request as it is served:
// the final status, the bytes written and the matched route pattern. The
// outermost middleware wraps the ResponseWriter once; the inner ones that
// receive that same writer share the record instead of wrapping again.
type exchange struct {
	w       http.ResponseWriter // the wrapper that feeds this record
	status  int                 // 0 until the header is written
	bytes   int64
	pattern string
}

type exchangeKey struct{}

// observe returns w and r instrumented to fill an exchange, reusing the one
// already set up by an outer middleware when w is its writer.
//
// httpsnoop keeps every optional interface of w (Flusher, Hijacker,
// ReaderFrom, Pusher) and Unwrap, so http.ResponseController, SSE and
// WebSocket upgrades work through the stack.
func observe(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, *exchange) {
	if x, ok := r.Context().Value(exchangeKey{}).(*exchange); ok && x.w == w {
		return w, r, x
	}
	x := &exchange{}
	x.w = httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				// 1xx other than 101 are interim; the final status follows.
				if x.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
					x.status = code
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				x.implicitOK()
				n, err := next(b)
				x.bytes += int64(n)
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				x.implicitOK()
				n, err := next(src)
				x.bytes += n
				return n, err
			}
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				x.implicitOK()
				next()
			}
		},
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) {
				c, rw, err := next()
				if err == nil && x.status == 0 {
					x.status = http.StatusSwitchingProtocols
				}
				return c, rw, err
			}
		},
	})
	return x.w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)), x
}

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

type loggerKey struct{}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// loggerFrom returns the logger Stack put in ctx, or slog.Default().
func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
