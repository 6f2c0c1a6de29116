package httpx

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TraceTransport wraps rt so that each call carries the caller's trace
// context (traceparent) and, when that trace is sampled or there is none
// yet, gets a client span, ended when the response body is closed. The
// request is cloned before its headers are set: a RoundTripper must not
// modify the caller's request.
func TraceTransport(rt http.RoundTripper) http.RoundTripper { return traceTransport{rt, false} }

// TraceProxyTransport is TraceTransport for requests made for this one
// call only — httputil.ReverseProxy's outgoing copy of the incoming
// request: the trace headers are set on the request itself, saving a
// clone per call.
func TraceProxyTransport(rt http.RoundTripper) http.RoundTripper {
	return traceTransport{rt, true}
}

type traceTransport struct {
	next  http.RoundTripper
	owned bool // the request's headers may be modified in place
}

func (t traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// A trace that is not sampled gets no client span: the upstream
	// continues it from the caller's span, and is not sampled either.
	var span trace.Span
	if parent := trace.SpanContextFromContext(ctx); !parent.IsValid() || parent.IsSampled() {
		ctx, span = tracer().Start(ctx, req.Method, clientSpan...)
		if !span.IsRecording() {
			span = nil
		}
	}
	if !t.owned {
		req = req.Clone(ctx)
	} // else the span need not be in the request's context: nothing below starts spans
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier(req.Header))
	resp, err := t.next.RoundTrip(req)
	if span == nil {
		return resp, err
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.ServerAddressKey.String(req.URL.Host),
		semconv.URLFullKey.String(req.URL.Scheme + "://" + req.URL.Host + req.URL.Path), // never the query: it may hold secrets
		{},
	}
	if err != nil {
		attrs[3] = semconv.ErrorTypeKey.String(errorType(err))
		span.SetAttributes(attrs...)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return nil, err
	}
	attrs[3] = semconv.HTTPResponseStatusCodeKey.Int(resp.StatusCode)
	span.SetAttributes(attrs...)
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		span.End()
		return resp, nil
	}
	resp.Body = newSpanBody(resp.Body, span)
	return resp, nil
}

// spanBody ends its span when the body is read to its end or closed. It
// keeps io.Writer when the body has it: the body of a 101 Switching
// Protocols response is the upgraded connection, which the proxy writes to.
type spanBody struct {
	io.ReadCloser
	span  trace.Span
	ended atomic.Bool
}

type spanReadWriteBody struct {
	*spanBody
	w io.Writer
}

func (s spanReadWriteBody) Write(b []byte) (int, error) { return s.w.Write(b) }

func newSpanBody(body io.ReadCloser, span trace.Span) io.ReadCloser {
	b := &spanBody{ReadCloser: body, span: span}
	if w, ok := body.(io.Writer); ok {
		return spanReadWriteBody{b, w}
	}
	return b
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.end()
	}
	return n, err
}

func (b *spanBody) Close() error {
	b.end()
	return b.ReadCloser.Close()
}

func (b *spanBody) end() {
	if b.ended.CompareAndSwap(false, true) {
		b.span.End()
	}
}

// errorType names a transport error for the error.type attribute: its
// type, a low-cardinality value as the conventions ask.
func errorType(err error) string { return fmt.Sprintf("%T", err) }
