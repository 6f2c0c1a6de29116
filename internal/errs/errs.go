// Package errs defines bam's one error type: a Kind that says what went wrong
// in terms a client can act on, a stable machine Code, a safe Message, optional
// per-field details, and the underlying cause, which is never shown to clients.
//
// Services return *Error from their methods; the HTTP layer (httpx) maps the
// Kind to a status code and renders the rest as RFC 9457 problem details.
// Errors that are not *Error are treated as Internal, except context
// cancellation (Canceled) and deadlines (Timeout).
package errs

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Kind is the category of an error: what it means to the client. The set is
// small and fixed; each Kind maps to one HTTP status (the table is in httpx).
type Kind string

// The kinds of error. The comment on each says what it tells a client.
const (
	// Invalid: the request is malformed or fails validation; fix it before
	// retrying. Fields usually says which inputs are wrong.
	Invalid Kind = "invalid"
	// Unauthenticated: credentials are missing, expired or wrong; sign in
	// (again) and retry.
	Unauthenticated Kind = "unauthenticated"
	// Forbidden: the caller is known but not allowed to do this; retrying
	// will not help.
	Forbidden Kind = "forbidden"
	// NotFound: the resource does not exist, or the caller may not know
	// that it does.
	NotFound Kind = "not_found"
	// Conflict: the request clashes with the current state (a duplicate
	// key, a concurrent change); re-read the state and decide.
	Conflict Kind = "conflict"
	// PreconditionFailed: a condition the client set (If-Match, a version)
	// no longer holds; re-read and retry with the new version.
	PreconditionFailed Kind = "precondition_failed"
	// TooLarge: the request body or an upload exceeds a limit.
	TooLarge Kind = "too_large"
	// UnsupportedMediaType: the body's content type is not accepted here.
	UnsupportedMediaType Kind = "unsupported_media_type"
	// TooManyRequests: a rate limit or quota was hit; retry later.
	TooManyRequests Kind = "too_many_requests"
	// Internal: a bug or an unexpected failure on our side; the client can
	// only report it (with the request id).
	Internal Kind = "internal"
	// Unavailable: a dependency is down or the service is overloaded or
	// shutting down; retrying later, maybe elsewhere, may succeed.
	Unavailable Kind = "unavailable"
	// Timeout: the work did not finish within its deadline; the outcome of
	// a non-idempotent request is unknown.
	Timeout Kind = "timeout"
	// Canceled: the client gave up (closed the connection or canceled the
	// call) before the work finished; nobody is waiting for the answer.
	Canceled Kind = "canceled"
)

// FieldError says what is wrong with one input field.
type FieldError struct {
	// Field is the input's name or JSON path, e.g. "title" or "items.2.qty".
	Field string `json:"field"`
	// Code is a stable machine code, e.g. "required", "too_long".
	Code string `json:"code"`
	// Message is for humans, e.g. "at most 200 characters".
	Message string `json:"message"`
}

// Error is bam's error type. Kind, Code, Message and Fields are shown to
// clients (except the Message of an Internal error); Err never is.
type Error struct {
	Kind Kind
	// Code is stable and namespaced by service, e.g.
	// "auth.invalid_credentials" or "content.validation_failed".
	Code    string
	Message string
	Fields  []FieldError
	// Err is the cause, for logs and errors.Is/As only.
	Err error
}

// E returns an error of the given kind and code, with a message formatted
// from format and args, as by fmt.Errorf. A %w in format
// also records the cause, but its text then becomes part of the Message that
// clients see; use Wrap to keep a cause private.
func E(kind Kind, code, format string, args ...any) *Error {
	e := &Error{Kind: kind, Code: code}
	wrapped := fmt.Errorf(format, args...)
	e.Message = wrapped.Error()
	switch u := wrapped.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}

// Wrap returns an error of the given kind, code and message whose cause is
// err. The cause stays reachable through errors.Is and errors.As but is never
// shown to clients. A nil err gives an Error without a cause.
func Wrap(err error, kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg, Err: err}
}

// WithField appends a field error and returns e, for chaining:
//
//	errs.E(errs.Invalid, "content.validation_failed", "invalid record").
//		WithField("title", "too_long", "at most 200 characters")
func (e *Error) WithField(field, code, msg string) *Error {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Message: msg})
	return e
}

// Error returns "code: message: cause", leaving out the empty parts; it is
// meant for logs and may include the cause.
func (e *Error) Error() string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	add(e.Code)
	add(e.Message)
	if e.Err != nil {
		add(e.Err.Error())
	}
	if b.Len() == 0 {
		return string(e.Kind)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err: that of the first *Error in its chain with
// a Kind set, Canceled for context.Canceled, Timeout for
// context.DeadlineExceeded, Internal for anything else, and "" for nil.
//
// An Internal *Error whose cause is a context error reports Canceled or
// Timeout instead: a query that failed because the client left is not a bug.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	for cur := err; errors.As(cur, &e); cur = e.Err {
		if e.Kind != "" && e.Kind != Internal {
			return e.Kind
		}
		if e.Kind == Internal {
			if k := contextKind(e.Err); k != "" {
				return k
			}
			return Internal
		}
	}
	if k := contextKind(err); k != "" {
		return k
	}
	return Internal
}

func contextKind(err error) Kind {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	return ""
}

// CodeOf returns the Code of the first *Error in err's chain that has one,
// or "".
func CodeOf(err error) string {
	var e *Error
	for cur := err; errors.As(cur, &e); cur = e.Err {
		if e.Code != "" {
			return e.Code
		}
	}
	return ""
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
