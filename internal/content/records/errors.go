package records

import (
	"errors"
	"regexp"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Error codes of this package.
const (
	CodeValidation    = "content.validation_failed"
	CodeNotFound      = "content.not_found"
	CodeConflict      = "content.conflict"
	CodePrecondition  = "content.precondition_failed"
	CodeForbidden     = "content.forbidden"
	CodeInvalidSort   = "content.invalid_sort"
	CodeRestricted    = "content.restricted"
	CodeInvalidCursor = "request.invalid_cursor" // as httpx.DecodeCursor says
	CodeQueryTimeout  = "content.query_timeout"
)

func notFound(collection string) error {
	return errs.E(errs.NotFound, CodeNotFound, "No such record in %s.", collection)
}

func precondition() error {
	return errs.E(errs.PreconditionFailed, CodePrecondition,
		"The record changed since the version given; read it again.")
}

// forbidden refuses a write whose result the rule of op ("create",
// "update") does not admit.
func forbidden(collection, op string) error {
	if op == "update" {
		return errs.E(errs.Forbidden, CodeForbidden, "The update rule of %s does not admit the record as changed.", collection)
	}
	return errs.E(errs.Forbidden, CodeForbidden, "The create rule of %s does not admit this record.", collection)
}

// invalid is a validation error with field errors.
func invalid(fields ...errs.FieldError) *errs.Error {
	return &errs.Error{Kind: errs.Invalid, Code: CodeValidation, Message: "The record is not valid.", Fields: fields}
}

func invalidCursor(cause error) error {
	return errs.Wrap(cause, errs.Invalid, CodeInvalidCursor, "The cursor is not valid for this list.").
		WithField("cursor", "invalid", "not a cursor returned by this list")
}

// PostgreSQL: `Key (title)=(x) already exists.`; SQLite: `UNIQUE
// constraint failed: c_posts.title`.
var (
	pgKey     = regexp.MustCompile(`^Key \(([a-z][a-z0-9_]*)\)=`)
	sqliteKey = regexp.MustCompile(`UNIQUE constraint failed: [a-z0-9_"]+\.["]?([a-z][a-z0-9_]*)`)
)

// uniqueError turns a unique violation writing a record of m into a field
// error on the field whose value is taken (content.validation_failed), or a
// conflict when the field cannot be told; other errors pass unchanged.
func (m *meta) uniqueError(err error) error {
	if !store.IsUniqueViolation(err) {
		return err
	}
	var name string
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		if sub := pgKey.FindStringSubmatch(pgErr.Detail); sub != nil {
			name = sub[1]
		}
	} else if sub := sqliteKey.FindStringSubmatch(err.Error()); sub != nil {
		name = sub[1]
	}
	if col, ok := m.column(name); ok && !col.system() {
		e := invalid(errs.FieldError{Field: col.name, Code: "taken", Message: "already used by another record"})
		e.Err = err
		return e
	}
	return errs.Wrap(err, errs.Conflict, CodeConflict, "The record clashes with another record.")
}
