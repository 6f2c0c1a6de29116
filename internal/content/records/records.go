// Package records stores and queries the records of collections: insert,
// read, update and delete with optimistic concurrency and relation
// integrity, and lists with filters, access rules compiled to SQL,
// full-text search, sorting, projection and keyset or page pagination.
//
// One Store serves both dialects with the same SQL but for a few
// functions. Sorting puts NULLs before every value in both directions
// (first ascending, last descending: SQLite's own order; PostgreSQL
// indexes serve it when declared NULLS FIRST), and id ends every order,
// so keyset cursors are exact. The SQL texts that depend only on a
// collection's definition and a request's shape are built once per
// definition (id and version) and kept; on SQLite the statements read
// outside transactions are kept prepared too.
//
// Errors are *errs.Error with the content service's codes:
// content.validation_failed (per field), content.not_found (absent and
// forbidden alike), content.forbidden (create rule),
// content.precondition_failed, content.conflict, content.restricted,
// content.invalid_sort, content.query_timeout and request.invalid_cursor.
package records

import (
	"github.com/bamhq/bam/internal/content/expr"
)

// Record is a record as the API shows it: field name → JSON value, with
// the system fields id, created, updated (expr.DateLayout) and version.
type Record map[string]any

// Access limits an operation to the rows a rule admits for the caller. A
// nil *Access admits everything (administrators, internal work).
type Access struct {
	Rule expr.Node // nil: everyone
	Auth expr.Auth
	// Views says what the caller may view of each collection (visible
	// false: nothing; a nil rule: everything), for what the caller names
	// through relations: a filter's relation paths read only the related
	// records it admits (expr.Guarded), and a relation id a write sets
	// must name a record it admits, else it is reported as missing. Nil:
	// every record of every collection (trusted callers only).
	Views func(collection string) (rule expr.Node, visible bool)
}

// Query is a list request.
type Query struct {
	Filter expr.Node // the caller's filter=, checked
	Access *Access
	Search string // full-text query over searchable fields; results ranked
	// Sort is "-created", "title" (or "-created,title"); default "-id"
	// (newest first), or best match first with Search; id breaks ties.
	Sort    []string
	Fields  []string // projection; empty: all (id is always included)
	Limit   int      // keyset page size (default 30, max 500)
	Cursor  string   // from Page.NextCursor
	Page    int      // > 0: page mode
	PerPage int
	Count   bool // also count totalItems (a second query; either mode)
}

// Page is a list answer.
type Page struct {
	Items      []Record `json:"items"`
	NextCursor string   `json:"nextCursor,omitempty"`
	Page       int      `json:"page,omitempty"`
	PerPage    int      `json:"perPage,omitempty"`
	TotalItems *int64   `json:"totalItems,omitempty"`
}
