package httpx

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing, the server side here and the client side in tracetransport.go,
// with the global tracer provider and propagator that telemetry sets up. It
// replaces otelhttp, which built its attribute sets, wrapped the body and
// the writer, and cloned the request for every request whether the trace
// was sampled or not: here a span that is not recorded costs its context
// and nothing else, and attributes are set on recording spans only. Span
// names and kinds follow the HTTP semantic conventions: "METHOD route" on
// the server once the route is known (the method alone until then),
// "METHOD" on the client.

const tracerName = "github.com/bamhq/bam/internal/httpx"

// startServerSpan continues the caller's trace (W3C traceparent) with a
// server span. Whether it records is the sampler's decision.
func startServerSpan(r *http.Request) (context.Context, trace.Span) {
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), headerCarrier(r.Header))
	return tracer().Start(ctx, r.Method, serverSpan...)
}

// The span start options, made once: each call would allocate them.
var (
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// endServerSpan names and describes a recording span from what serving r
// learned, and ends it.
func endServerSpan(span trace.Span, r *http.Request, x *exchange, status int) {
	if !span.IsRecording() {
		span.End()
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPathKey.String(r.URL.Path),
		semconv.URLSchemeKey.String(scheme),
		semconv.ServerAddressKey.String(r.Host),
		semconv.NetworkProtocolVersionKey.String(protocolVersion(r)),
		semconv.ClientAddressKey.String(remoteHost(r.RemoteAddr)),
		semconv.HTTPResponseStatusCodeKey.Int(status),
	)
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	if x.pattern != "" {
		span.SetName(r.Method + " " + x.pattern)
		attrs = append(attrs, semconv.HTTPRouteKey.String(x.pattern))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// tracer returns the global provider's tracer, looked up again only when
// the provider changes: the provider's own lookup takes a lock.
func tracer() trace.Tracer {
	tp := otel.GetTracerProvider()
	if c := tracers.Load(); c != nil && c.provider == tp {
		return c.tracer
	}
	c := &cachedTracer{provider: tp, tracer: tp.Tracer(tracerName)}
	tracers.Store(c)
	return c.tracer
}

type cachedTracer struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
}

var tracers atomic.Pointer[cachedTracer]

// headerCarrier is propagation.HeaderCarrier without its cost: the W3C
// fields are looked up by their canonical names, where Header.Get would
// canonicalize "traceparent" into a new string on every request.
type headerCarrier http.Header

func canonicalField(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

func (c headerCarrier) Get(key string) string {
	if v := c[canonicalField(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Values(key string) []string { return c[canonicalField(key)] }

func (c headerCarrier) Set(key, value string) { c[canonicalField(key)] = []string{value} }

func (c headerCarrier) Keys() []string { return propagation.HeaderCarrier(c).Keys() }

func protocolVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 1:
		if r.ProtoMinor == 0 {
			return "1.0"
		}
		return "1.1"
	case 2:
		return "2"
	case 3:
		return "3"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
