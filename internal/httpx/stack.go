package httpx

import (
	"log/slog"
	"net/http"
)

// Stack wraps h, a service's routes, in the standard middleware chain, from
// the outside in:
//
//	Trace      span covers everything, so logs below carry trace_id
//	RequestID  before anything logs or answers, so all of it carries the id
//	Metrics    sees the final status, including Recover's 500
//	AccessLog  likewise
//	Recover    inside the above, so a panic still gets a logged, counted 500
//	ProblemMux when h is a *http.ServeMux: unknown routes answer problem+json
//
// The logger is also the one WriteError uses for internal errors.
func Stack(service string, logger *slog.Logger, h http.Handler) http.Handler {
	if mux, ok := h.(*http.ServeMux); ok {
		h = ProblemMux(mux)
	}
	h = Recover(logger)(h)
	h = AccessLog(logger.With("service", service))(h)
	h = Metrics(service)(h)
	h = RequestID(h)
	h = withLoggerHandler(logger, h)
	return Trace(service)(h)
}

func withLoggerHandler(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withLogger(r.Context(), logger)))
	})
}
