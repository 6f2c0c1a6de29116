package records

import (
	"fmt"
	"strings"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// plan is a list request checked against the collection.
type plan struct {
	order  order
	read   []int    // columns to select: the projection, then sort keys it lacks
	hidden []string // fields read only for the cursor, removed from the items
	paged  bool
	page   int
	limit  int // rows per page
}

// plan checks the paging, sort and projection of q.
func (m *meta) plan(q Query) (plan, error) {
	var p plan
	var fields []errs.FieldError
	bad := func(field, code, msg string) {
		fields = append(fields, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	size := func(param string, n int) int {
		switch {
		case n == 0:
			return httpx.DefaultLimit
		case n < 0 || n > httpx.MaxLimit:
			bad(param, "out_of_range", fmt.Sprintf("must be from 1 to %d", httpx.MaxLimit))
		}
		return n
	}
	switch {
	case q.Page > 0:
		p.paged, p.page, p.limit = true, q.Page, size("perPage", q.PerPage)
		if q.Page > httpx.MaxPage {
			bad("page", "out_of_range", fmt.Sprintf("must be from 1 to %d", httpx.MaxPage))
		}
		if q.Cursor != "" {
			bad("cursor", "conflict", "cannot be combined with page")
		}
	case q.Page < 0:
		bad("page", "out_of_range", fmt.Sprintf("must be from 1 to %d", httpx.MaxPage))
	default:
		p.limit = size("limit", q.Limit)
	}
	p.read = m.project(q.Fields, bad)
	if len(fields) > 0 {
		return p, &errs.Error{Kind: errs.Invalid, Code: CodeValidation, Message: "The list parameters are not valid.", Fields: fields}
	}
	o, err := m.parseSort(q.Sort, q.Search != "")
	if err != nil {
		return p, err
	}
	p.order = o
	if !p.paged && len(q.Fields) > 0 {
		for _, k := range o.keys {
			if k.col != nil && !containsCol(p.read, m.byName[k.col.name]) {
				p.read = append(p.read, m.byName[k.col.name])
				p.hidden = append(p.hidden, k.col.name)
			}
		}
	}
	return p, nil
}

// project returns the columns of the projection fields: id first, then
// each named field once; every column when fields is empty.
func (m *meta) project(fields []string, bad func(field, code, msg string)) []int {
	if len(fields) == 0 {
		return m.all
	}
	idx := []int{0}
	for _, entry := range fields {
		for name := range strings.SplitSeq(entry, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			i, ok := m.byName[name]
			if !ok {
				bad("fields", "unknown", "no field "+quoteName(name))
				continue
			}
			if !containsCol(idx, i) {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

func containsCol(idx []int, i int) bool {
	for _, j := range idx {
		if j == i {
			return true
		}
	}
	return false
}
