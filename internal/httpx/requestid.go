package httpx

import (
	"net/http"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/bamhq/bam/internal/telemetry"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an accepted incoming id; ours are 36 characters.
const maxRequestIDLen = 64

// RequestID gives every request an id: the incoming X-Request-Id when it is
// short and made of safe characters (so that one id follows a request from
// the gateway through the services), a new UUIDv7 otherwise. The id is put
// in the context (telemetry.WithRequestID), echoed in the response header
// and added to the current trace span when it records.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !ValidRequestID(id) {
			id = NewRequestID()
			// Downstream calls that copy headers forward the id we chose.
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		ctx := telemetry.WithRequestID(r.Context(), id)
		if span := trace.SpanFromContext(ctx); span.IsRecording() { // else the attribute would cost an allocation for nothing
			span.SetAttributes(attribute.String("bam.request_id", id))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ValidRequestID accepts ids that are safe to log and echo: 1–64 characters
// from [A-Za-z0-9._:-].
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns a new request id: a UUIDv7.
func NewRequestID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}
