package content

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Query parameter limits.
const (
	maxFilterLen = 4096
	maxSearchLen = 512
	maxListItems = 32 // entries of sort, fields
)

// listQuery reads a list request's parameters: filter, sort, fields,
// search and paging. The filter is parsed and checked against c.
func (s *Service) listQuery(r *http.Request, c *schema.Collection) (records.Query, error) {
	v := r.URL.Query()
	p, err := httpx.ParseListParams(r)
	if err != nil {
		return records.Query{}, err
	}
	q := records.Query{Search: v.Get("search"), Count: p.Count}
	if p.Paged() {
		q.Page, q.PerPage = p.Page, p.Limit
	} else {
		q.Limit, q.Cursor = p.Limit, p.Cursor
	}
	if len(q.Search) > maxSearchLen {
		return q, invalid(CodeInvalidRequest, "search", "search is longer than %d bytes", maxSearchLen)
	}
	if q.Filter, err = s.parseFilter(c, v.Get("filter")); err != nil {
		return q, err
	}
	if q.Sort, err = list(v.Get("sort"), "sort"); err != nil {
		return q, err
	}
	if q.Fields, err = list(v.Get("fields"), "fields"); err != nil {
		return q, err
	}
	return q, nil
}

// parseFilter parses and checks a filter of collection c ("" is none).
// Errors are content.invalid_filter with the byte position.
func (s *Service) parseFilter(c *schema.Collection, src string) (expr.Node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	if len(src) > maxFilterLen {
		return nil, invalid(CodeInvalidFilter, "filter", "the filter is longer than %d bytes", maxFilterLen)
	}
	n, err := expr.Parse(src)
	if err == nil {
		err = expr.Check(n, s.Registry, c.Name)
	}
	if err != nil {
		return nil, filterError(err)
	}
	return n, nil
}

// filterError turns a parse or check error into content.invalid_filter,
// naming the position.
func filterError(err error) error {
	var e *expr.Error
	if errors.As(err, &e) {
		msg := fmt.Sprintf("at position %d: %s", e.Pos, e.Msg)
		return errs.Wrap(err, errs.Invalid, CodeInvalidFilter, "The filter is invalid "+msg+".").
			WithField("filter", "invalid", msg)
	}
	if errs.KindOf(err) == errs.Invalid {
		return err
	}
	return errs.Wrap(err, errs.Invalid, CodeInvalidFilter, "The filter is invalid.").
		WithField("filter", "invalid", err.Error())
}

// list splits a comma-separated parameter, dropping empty items.
func list(raw, name string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) > maxListItems {
		return nil, invalid(CodeInvalidRequest, name, "%s lists more than %d items", name, maxListItems)
	}
	return out, nil
}
