package schema

import (
	"fmt"

	"github.com/bamhq/bam/internal/errs"
)

// Error codes of this package's errors.
const (
	CodeValidation    = "content.validation_failed"
	CodeNotFound      = "content.not_found"
	CodeConflict      = "content.conflict"
	CodeExists        = "content.collection_exists"
	CodePrecondition  = "content.precondition_failed"
	CodeInvalidSearch = "content.invalid_search"
)

// problems collects field errors, so that every failure is reported at
// once.
type problems struct{ fields []errs.FieldError }

func (p *problems) add(path, code, format string, args ...any) {
	p.fields = append(p.fields, errs.FieldError{Field: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) any() bool { return len(p.fields) > 0 }

// err returns the collected errors as one validation error, or nil.
func (p *problems) err(msg string) error {
	if len(p.fields) == 0 {
		return nil
	}
	return &errs.Error{Kind: errs.Invalid, Code: CodeValidation, Message: msg, Fields: p.fields}
}

// fieldError returns a validation error about one field.
func fieldError(msg, path, code, format string, args ...any) error {
	var p problems
	p.add(path, code, format, args...)
	return p.err(msg)
}
