package httpx

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/bamhq/bam/internal/errs"
)

// Paging limits shared by every list endpoint.
const (
	DefaultLimit = 30        // items per page when the client does not say
	MaxLimit     = 500       // most items per page
	MaxPage      = 1_000_000 // highest page number, so offsets stay sane
	MaxCursorLen = 1024      // longest encoded cursor accepted
)

// ListParams is how a client asked to page through a list. There are two
// modes. Keyset (the default): ?limit=&cursor=, where cursor is the previous
// page's nextCursor. Pages: ?page=&perPage=, 1-based. Either may add
// ?count=true to ask for TotalItems.
type ListParams struct {
	// Limit is the number of items per page (limit or perPage).
	Limit int
	// Cursor is the opaque cursor of keyset mode; "" for the first page.
	// Decode it with DecodeCursor.
	Cursor string
	// Page is the 1-based page number in page mode, 0 in keyset mode.
	Page int
	// Count asks for the total number of items.
	Count bool
}

// Paged reports whether the client asked for page mode.
func (p ListParams) Paged() bool { return p.Page > 0 }

// Offset is the number of items before the page, in page mode.
func (p ListParams) Offset() int {
	if p.Page == 0 {
		return 0
	}
	return (p.Page - 1) * p.Limit
}

// List is the response body of every list endpoint. NextCursor is set in
// keyset mode while more items follow; Page and PerPage in page mode;
// TotalItems when the client asked for a count.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
	Page       int    `json:"page,omitempty"`
	PerPage    int    `json:"perPage,omitempty"`
	TotalItems *int   `json:"totalItems,omitempty"`
}

// ParseListParams reads the paging parameters of r. Empty parameters count
// as absent. Invalid values, and mixing the two modes, give an Invalid
// *errs.Error with code request.invalid_list_params and one field error per
// bad parameter.
func ParseListParams(r *http.Request) (ListParams, error) {
	q := r.URL.Query()
	p := ListParams{Limit: DefaultLimit}
	var fields []errs.FieldError
	bad := func(field, code, msg string) {
		fields = append(fields, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	intParam := func(name string, max int) (int, bool) {
		s := q.Get(name)
		if s == "" {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > max {
			bad(name, "out_of_range", fmt.Sprintf("must be an integer from 1 to %d", max))
			return 0, false
		}
		return n, true
	}

	limit, hasLimit := intParam("limit", MaxLimit)
	perPage, hasPerPage := intParam("perPage", MaxLimit)
	page, hasPage := intParam("page", MaxPage)
	p.Cursor = q.Get("cursor")
	paged := hasPage || hasPerPage || q.Get("page") != "" || q.Get("perPage") != ""

	switch {
	case hasLimit:
		p.Limit = limit
	case hasPerPage:
		p.Limit = perPage
	}
	if paged {
		p.Page = 1
		if hasPage {
			p.Page = page
		}
		if p.Cursor != "" {
			bad("cursor", "conflict", "cannot be combined with page or perPage")
		}
		if q.Get("limit") != "" {
			bad("limit", "conflict", "use perPage with page")
		}
	}
	if len(p.Cursor) > MaxCursorLen {
		bad("cursor", "too_long", fmt.Sprintf("at most %d characters", MaxCursorLen))
	}
	if s := q.Get("count"); s != "" {
		c, err := strconv.ParseBool(s)
		if err != nil {
			bad("count", "invalid", "must be true or false")
		}
		p.Count = c
	}
	if len(fields) > 0 {
		return ListParams{}, &errs.Error{Kind: errs.Invalid, Code: "request.invalid_list_params",
			Message: "The paging parameters are invalid.", Fields: fields}
	}
	return p, nil
}

// EncodeCursor encodes v, a service's position in a list (e.g. the sort key
// and id of the last item), as an opaque cursor: base64url of its JSON.
// Cursors are not signed: decode them into a struct and treat the fields as
// untrusted input. EncodeCursor panics if v cannot be encoded or its cursor
// would be longer than MaxCursorLen: both are programming errors.
func EncodeCursor(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // shorter cursors; they are never embedded in HTML
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("httpx: EncodeCursor: %v", err))
	}
	s := base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	if len(s) > MaxCursorLen {
		panic(fmt.Sprintf("httpx: EncodeCursor: cursor of %d characters exceeds MaxCursorLen", len(s)))
	}
	return s
}

// DecodeCursor decodes a cursor made by EncodeCursor into v, a pointer. The
// decoding is strict (canonical base64url, one JSON value, no unknown
// fields); any failure is an Invalid *errs.Error, code request.invalid_cursor.
func DecodeCursor(s string, v any) error {
	if s == "" || len(s) > MaxCursorLen {
		return invalidCursor(nil)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return invalidCursor(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var invalid *json.InvalidUnmarshalError
		if errors.As(err, &invalid) {
			return errs.Wrap(err, errs.Internal, "", "httpx: DecodeCursor needs a non-nil pointer")
		}
		return invalidCursor(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidCursor(errors.New("data after the cursor value"))
	}
	return nil
}

func invalidCursor(cause error) error {
	return errs.Wrap(cause, errs.Invalid, "request.invalid_cursor", "The cursor is not valid for this list.").
		WithField("cursor", "invalid", "not a cursor returned by this list")
}
