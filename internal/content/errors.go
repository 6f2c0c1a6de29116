package content

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/errs"
)

// Error codes of the content service (the subpackages use the same
// namespace: content.validation_failed, content.conflict,
// content.restricted, content.invalid_sort, content.collection_exists).
const (
	CodeNotFound           = "content.not_found"
	CodeCollectionNotFound = "content.collection_not_found"
	CodeForbidden          = "content.forbidden"
	CodeInvalidFilter      = "content.invalid_filter"
	CodeInvalidExpand      = "content.invalid_expand"
	CodeInvalidRequest     = "content.invalid_request"
	CodePrecondition       = "content.precondition_failed"
	CodeBatchTooLarge      = "content.batch_too_large"
)

func errNoCollection(name string) error {
	return errs.E(errs.NotFound, CodeCollectionNotFound, "There is no collection %q.", name)
}

func errNotFound() error {
	return errs.E(errs.NotFound, CodeNotFound, "The record does not exist.")
}

func errForbidden(op string) error {
	return errs.E(errs.Forbidden, CodeForbidden, "You may not %s records of this collection.", op)
}

func errAdminOnly() error {
	return errs.E(errs.Forbidden, CodeForbidden, "Managing collections requires the permission %s.", AdminPermission)
}

func invalid(code, field, format string, args ...any) *errs.Error {
	e := errs.E(errs.Invalid, code, format, args...)
	if field != "" {
		e = e.WithField(field, "invalid", e.Message)
	}
	return e
}

// isSchemaSurprise reports whether err says a table or column this
// replica believed in is not there: another replica changed the schema and
// its event has not arrived yet. The registry is reloaded on it.
func isSchemaSurprise(err error) bool {
	if err == nil {
		return false
	}
	if pg, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pg.Code == "42P01" || pg.Code == "42703" // undefined_table, undefined_column
	}
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "no such column") ||
		strings.Contains(msg, "has no column named")
}
