package httpx

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Trace starts an OpenTelemetry server span per request (continuing the
// caller's trace from W3C traceparent headers), named "METHOD route" once
// the route is known, with the http.route attribute. It uses the global
// tracer provider and propagator that telemetry sets up.
func Trace(service string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w, r2, x := observe(w, r)
			next.ServeHTTP(w, r2)
			x.served(r2)
			if x.pattern != "" {
				span := trace.SpanFromContext(r2.Context())
				span.SetName(r.Method + " " + x.pattern)
				span.SetAttributes(attribute.String("http.route", x.pattern))
			}
		})
		return otelhttp.NewHandler(inner, service,
			otelhttp.WithServerName(service),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				// Until the route is known the name is the method alone,
				// as the HTTP semantic conventions ask.
				return r.Method
			}))
	}
}
