package transport

import (
	"net/http"

	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/telemetry"
)

// requestIDHeader carries the request id between services (httpx reads it).
const requestIDHeader = "X-Request-Id"

// Client wraps rt (InProcess or Replicas) into the client services use to
// call each other: every call gets a client span, and carries the caller's
// trace context (traceparent) and request id in headers, exactly as it
// would across the network — so the callee sees the same thing in both
// shapes of the program.
func Client(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: httpx.TraceTransport(propagateRequestID{rt})}
}

// propagateRequestID copies the context's request id into the outgoing
// request unless the caller set one.
type propagateRequestID struct{ next http.RoundTripper }

func (p propagateRequestID) RoundTrip(r *http.Request) (*http.Response, error) {
	if id := telemetry.RequestID(r.Context()); id != "" && r.Header.Get(requestIDHeader) == "" {
		r = r.Clone(r.Context()) // a RoundTripper must not modify the caller's request
		r.Header.Set(requestIDHeader, id)
	}
	return p.next.RoundTrip(r)
}
