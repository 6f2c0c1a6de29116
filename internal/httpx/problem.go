package httpx

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/telemetry"
)

// ProblemTypeBase prefixes an error code to make a problem's "type" URI, e.g.
// https://bam.dev/problems/auth.invalid_credentials. The URI identifies the
// problem type and is as stable as the code; clients compare it, they need
// not fetch it (the site may serve one page per code). Problems without a
// code use "about:blank", whose title is the HTTP status text (RFC 9457).
const ProblemTypeBase = "https://bam.dev/problems/"

// ContentTypeProblem is the media type of an error response.
const ContentTypeProblem = "application/problem+json"

// StatusClientClosedRequest is what bam answers, and logs, when the client
// went away before the answer was ready (nginx's 499; not in net/http).
const StatusClientClosedRequest = 499

// statusByKind is the one table from error kind to HTTP status.
var statusByKind = map[errs.Kind]int{
	errs.Invalid:              http.StatusBadRequest,
	errs.Unauthenticated:      http.StatusUnauthorized,
	errs.Forbidden:            http.StatusForbidden,
	errs.NotFound:             http.StatusNotFound,
	errs.Conflict:             http.StatusConflict,
	errs.PreconditionFailed:   http.StatusPreconditionFailed,
	errs.TooLarge:             http.StatusRequestEntityTooLarge,
	errs.UnsupportedMediaType: http.StatusUnsupportedMediaType,
	errs.TooManyRequests:      http.StatusTooManyRequests,
	errs.Internal:             http.StatusInternalServerError,
	errs.Unavailable:          http.StatusServiceUnavailable,
	errs.Timeout:              http.StatusGatewayTimeout,
	errs.Canceled:             StatusClientClosedRequest,
}

// Status returns the HTTP status for an error kind; 500 for unknown kinds.
func Status(kind errs.Kind) int {
	if s, ok := statusByKind[kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// KindOfStatus is the inverse of Status, for clients turning a response back
// into an error: 405 maps to Invalid, unknown 4xx to Invalid, 5xx to
// Unavailable except 500 and 504.
func KindOfStatus(status int) errs.Kind {
	for k, s := range statusByKind {
		if s == status {
			return k
		}
	}
	if status >= 400 && status < 500 {
		return errs.Invalid
	}
	return errs.Unavailable
}

// Problem is an RFC 9457 problem details object with bam's extension members.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	Code      string            `json:"code,omitempty"`
	RequestID string            `json:"requestId,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
}

// Generic details for errors that carry no safe message of their own.
var genericDetail = map[errs.Kind]string{
	errs.Internal:    "An internal error occurred. Quote the request id when reporting it.",
	errs.Unavailable: "The service is temporarily unavailable. Try again later.",
	errs.Timeout:     "The request did not complete in time.",
	errs.Canceled:    "The request was canceled by the client.",
}

// ProblemOf builds the problem details for err as served to r. It never
// includes an error's cause, nor the message of an Internal error.
func ProblemOf(r *http.Request, err error) Problem {
	kind := errs.KindOf(err)
	status := Status(kind)
	p := Problem{
		Type:      "about:blank",
		Title:     statusTitle(status),
		Status:    status,
		Detail:    genericDetail[kind],
		Instance:  r.URL.Path,
		Code:      errs.CodeOf(err),
		RequestID: telemetry.RequestID(r.Context()),
	}
	if p.Code != "" {
		p.Type = ProblemTypeBase + p.Code
	}
	if e := errs.As(err); e != nil && kind != errs.Internal {
		if e.Message != "" {
			p.Detail = e.Message
		}
		p.Errors = e.Fields
	}
	return p
}

func statusTitle(status int) string {
	if status == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	return http.StatusText(status)
}

// WriteError answers r with err as application/problem+json. Internal errors
// are logged with their cause (and, through ctx, the request id); clients
// only see a generic detail.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(r, err)
	if p.Status == http.StatusInternalServerError {
		loggerFrom(r.Context()).ErrorContext(r.Context(), "internal error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	WriteProblem(w, p)
}

// WriteProblem writes p as the response.
func WriteProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	if p.Status >= 500 || p.Status == StatusClientClosedRequest {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// ErrorFromResponse turns an error response (status >= 400) from another bam
// service back into an *errs.Error with the same kind, code, detail and
// fields, so that a client over HTTP returns what the local service would.
// It reads, but does not close, resp.Body.
func ErrorFromResponse(resp *http.Response) *errs.Error {
	e := &errs.Error{Kind: KindOfStatus(resp.StatusCode), Message: statusTitle(resp.StatusCode)}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != ContentTypeProblem && !strings.HasSuffix(mt, "+json") && mt != "application/json" {
		return e
	}
	var p Problem
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&p); err != nil {
		return e
	}
	e.Code, e.Fields = p.Code, p.Errors
	if p.Detail != "" {
		e.Message = p.Detail
	}
	return e
}

// NotFoundHandler answers every request with a 404 problem.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, errs.E(errs.NotFound, "request.route_not_found", "No route matches %s.", r.URL.Path))
	})
}

// MethodNotAllowedHandler answers every request with a 405 problem listing
// the allowed methods in the Allow header.
func MethodNotAllowedHandler(allow ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		p := ProblemOf(r, errs.E(errs.Invalid, "request.method_not_allowed", "Method %s is not allowed here.", r.Method))
		p.Status, p.Title = http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed)
		WriteProblem(w, p)
	})
}
