package telemetry

import "context"

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id, so that log lines
// and outgoing calls made while serving the request can name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
