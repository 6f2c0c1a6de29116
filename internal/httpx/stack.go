package httpx

import (
	"log/slog"
	"net/http"
	"time"
)

// Stack wraps h, a service's routes, in the standard middleware chain, from
// the outside in:
//
//	trace      a server span covers everything, so logs below carry trace_id;
//	metrics    with it: they see the final status, including Recover's 500
//	RequestID  before anything logs or answers, so all of it carries the id
//	AccessLog  sees the final status too
//	Recover    inside the above, so a panic still gets a logged, counted 500
//	ProblemMux when h is a *http.ServeMux: unknown routes answer problem+json
//
// The outermost step wraps the ResponseWriter once and makes the one
// context the inner ones add to; the logger is also the one WriteError uses
// for internal errors.
func Stack(service string, logger *slog.Logger, h http.Handler) http.Handler {
	if mux, ok := h.(*http.ServeMux); ok {
		h = ProblemMux(mux)
	}
	h = Recover(logger)(h)
	h = AccessLog(logger.With("service", service))(h)
	h = RequestID(h)
	return &observed{next: h, logger: logger, metrics: newServerMetrics(service)}
}

// observed is Stack's outermost step: the server span, the exchange record
// (the status and route the others read) and the metrics.
type observed struct {
	next    http.Handler
	logger  *slog.Logger
	metrics *serverMetrics
}

func (o *observed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, span := startServerSpan(r)
	x := newExchange(ctx, w, o.logger)
	r2 := r.WithContext(x)
	o.metrics.inFlight.Inc()
	panicked := true
	defer func() {
		o.metrics.inFlight.Dec()
		// A handler that panicked through (an aborted response) counts
		// with the status it had written, or 500.
		status := x.finalStatus()
		if panicked && x.status == 0 {
			status = http.StatusInternalServerError
		}
		o.metrics.record(x.route(), r.Method, status, time.Since(start))
		endServerSpan(span, r2, x, status)
	}()
	o.next.ServeHTTP(x.w, r2)
	x.served(r2)
	panicked = false
}
