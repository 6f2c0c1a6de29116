package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/bamhq/bam/internal/errs"
)

// Recover turns a panic in next into a 500 problem and logs it with its
// stack (and, through ctx, the request id). When the response had already
// begun, a clean answer is impossible: the panic is re-raised as
// http.ErrAbortHandler so that net/http cuts the connection and the client
// sees a broken response rather than a complete-looking one.
// http.ErrAbortHandler itself passes through unlogged, as net/http intends.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w, r, x := observe(w, r)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				logger.ErrorContext(r.Context(), "panic serving request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Any("panic", p),
					slog.String("stack", string(debug.Stack())))
				if x.status != 0 {
					panic(http.ErrAbortHandler)
				}
				// Headers set before the panic (cache, cookies) must not leak
				// into the error answer; the request id must stay.
				h := w.Header()
				id := h.Get(HeaderRequestID)
				clear(h)
				if id != "" {
					h.Set(HeaderRequestID, id)
				}
				WriteProblem(w, ProblemOf(r, errs.Wrap(fmt.Errorf("panic: %v", p), errs.Internal, "", "")))
			}()
			next.ServeHTTP(w, r)
		})
	}
}
