package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/bamhq/bam/internal/store"
)

// Encode validates input values of a record of c and converts them to
// column values for dialect d (column name → argument). Every failing field
// is reported in one *errs.Error (code content.validation_failed). System
// fields and owner fields in input are rejected; owner, when set, fills the
// collection's owner fields on Create.
//
// Input values are as encoding/json decodes them (json.Number and Go
// integers are accepted too). An empty string or list is null. Text,
// email, url and select values are stored in Unicode NFC. What a field
// accepts:
//
//   - text: a string of min..max characters (max defaults to
//     DefaultTextMax), matching pattern in whole if set; no NUL.
//   - number: a finite number within min..max; integer fields take whole
//     numbers of at most 2^53-1 in magnitude (exact in JSON).
//   - bool: true or false. date: an RFC 3339 string, or a date alone
//     (2026-01-02: midnight UTC), stored in UTC to the millisecond.
//   - email: an address alone, no display name. url: absolute http(s).
//   - select: one of values. relation, file: a non-empty string (a
//     relation's target is not looked up here).
//   - json: any JSON value, at most MaxJSONBytes encoded.
//   - multi fields: a list of such values (duplicates removed, order kept)
//     of min..max elements, at most MaxListLength.
//
// On Create every field gets a column (absent: null); on Replace every
// field but the owner fields; on Patch only the fields in input.
func (c *Collection) Encode(input map[string]any, mode Mode, owner string, d store.Dialect) (map[string]any, error) {
	var p problems
	out := make(map[string]any, len(c.Fields))
	for name := range input {
		if _, ok := c.Field(name); ok {
			continue
		}
		if IsSystem(name) {
			p.add(name, "read_only", "is set by the server")
		} else {
			p.add(name, "unknown", "no such field")
		}
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		v, present := input[f.Name]
		if f.Type == Owner {
			switch {
			case present:
				p.add(f.Name, "read_only", "is set by the server")
			case mode == Create && owner == "" && f.Required:
				p.add(f.Name, "required", "is set to the creator, and there is none (sign in)")
			case mode == Create:
				out[f.Name] = nullIfEmpty(owner)
			}
			continue
		}
		if !present && mode == Patch {
			continue
		}
		arg, msg := f.encode(v, d)
		switch {
		case msg.code != "":
			p.add(msg.path(f.Name), msg.code, "%s", msg.text)
		case arg == nil && f.Required:
			p.add(f.Name, "required", "is required")
		default:
			out[f.Name] = arg
		}
	}
	if err := p.err("invalid record"); err != nil {
		return nil, err
	}
	return out, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// problem is what is wrong with a value; elem ≥ 0 names an element of a
// list.
type problem struct {
	code, text string
	elem       int
}

func (m problem) path(field string) string {
	if m.elem >= 0 {
		return fmt.Sprintf("%s[%d]", field, m.elem)
	}
	return field
}

func bad(code, format string, args ...any) problem {
	return problem{code: code, text: fmt.Sprintf(format, args...), elem: -1}
}

// encode converts one input value of f to its column argument (nil: NULL).
func (f *Field) encode(v any, d store.Dialect) (any, problem) {
	if v == nil {
		return nil, problem{}
	}
	if f.Type == JSON {
		return encodeJSON(v)
	}
	if !f.IsMulti() {
		return f.encodeOne(v, d)
	}
	list, ok := v.([]any)
	if !ok {
		if s, ok := v.([]string); ok { // Go callers
			list = make([]any, len(s))
			for i := range s {
				list[i] = s[i]
			}
		} else {
			return nil, bad("invalid_type", "must be a list")
		}
	}
	var out []string
	seen := map[string]bool{}
	for i, e := range list {
		if e == nil {
			return nil, problem{code: "required", text: "must not be null or empty", elem: i}
		}
		a, m := f.encodeOne(e, d)
		if m.code != "" {
			m.elem = i
			return nil, m
		}
		if a == nil {
			return nil, problem{code: "required", text: "must not be null or empty", elem: i}
		}
		if s := a.(string); !seen[s] { // multi elements are strings
			seen[s] = true
			out = append(out, s)
		}
	}
	switch max := f.listMax(); {
	case f.Min != nil && float64(len(out)) < *f.Min && len(out) > 0:
		return nil, bad("too_few", "must have at least %v elements", *f.Min)
	case len(out) > max:
		return nil, bad("too_many", "must have at most %d elements", max)
	case len(out) == 0:
		return nil, problem{}
	}
	b, _ := json.Marshal(out) // strings only: cannot fail
	return string(b), problem{}
}

func (f *Field) listMax() int {
	if f.Max != nil && *f.Max < MaxListLength {
		return int(*f.Max)
	}
	return MaxListLength
}

// encodeOne converts a single (not list) value of f.
func (f *Field) encodeOne(v any, d store.Dialect) (any, problem) {
	switch f.Type {
	case Number:
		return f.encodeNumber(v)
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("invalid_type", "must be true or false")
		}
		return b, problem{}
	case Date:
		return encodeDate(v, d)
	}
	s, ok := v.(string)
	if !ok {
		return nil, bad("invalid_type", "must be a string")
	}
	if s == "" {
		return nil, problem{}
	}
	if strings.ContainsRune(s, 0) {
		return nil, bad("invalid", "must not contain NUL characters")
	}
	if f.Type == Text || f.Type == Email || f.Type == URL || f.Type == Select {
		// One spelling per text, so that = and unique compare what a
		// reader sees (filter literals are NFC too); references
		// (relation, file, owner) are kept as they are.
		s = norm.NFC.String(s)
	}
	switch f.Type {
	case Text:
		return s, f.checkText(s)
	case Email:
		if len(s) > MaxEmailLength {
			return nil, bad("too_long", "must be at most %d characters", MaxEmailLength)
		}
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return nil, bad("invalid_email", "not an email address")
		}
	case URL:
		if len(s) > MaxURLLength {
			return nil, bad("too_long", "must be at most %d characters", MaxURLLength)
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("invalid_url", "must be an absolute http or https URL")
		}
	case Select:
		if !containsString(f.Values, s) {
			return nil, bad("not_allowed", "must be one of %s", strings.Join(f.Values, ", "))
		}
	case Relation, File:
		if len(s) > MaxRefLength {
			return nil, bad("too_long", "must be at most %d characters", MaxRefLength)
		}
	}
	return s, problem{}
}

// containsString reports whether s, in NFC, is one of list (compared in
// NFC too).
func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s || norm.NFC.String(v) == s {
			return true
		}
	}
	return false
}

func (f *Field) checkText(s string) problem {
	n := utf8.RuneCountInString(s)
	max := float64(DefaultTextMax)
	if f.Max != nil {
		max = *f.Max
	}
	switch {
	case f.Min != nil && float64(n) < *f.Min:
		return bad("too_short", "must be at least %v characters", *f.Min)
	case float64(n) > max:
		return bad("too_long", "must be at most %v characters", max)
	case f.Pattern != "" && !wholeMatch(f.Pattern).MatchString(s):
		return bad("pattern", "does not match the pattern %s", f.Pattern)
	}
	return problem{}
}

// patterns caches compiled patterns, anchored to match whole values.
var patterns sync.Map // pattern → *regexp.Regexp

func wholeMatch(pattern string) *regexp.Regexp {
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil { // validated definitions compile; match nothing otherwise
		re = regexp.MustCompile(`[^\x00-\x{10FFFF}]`)
	}
	patterns.Store(pattern, re)
	return re
}

func (f *Field) encodeNumber(v any) (any, problem) {
	x, ok := toFloat(v)
	if !ok {
		return nil, bad("invalid_type", "must be a number")
	}
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return nil, bad("invalid", "must be a finite number")
	case f.Integer && x != math.Trunc(x):
		return nil, bad("not_integer", "must be a whole number")
	case f.Integer && math.Abs(x) > maxSafeInteger:
		return nil, bad("too_large", "must be between -%d and %d", int64(maxSafeInteger), int64(maxSafeInteger))
	case f.Min != nil && x < *f.Min:
		return nil, bad("too_small", "must be at least %v", *f.Min)
	case f.Max != nil && x > *f.Max:
		return nil, bad("too_large", "must be at most %v", *f.Max)
	}
	if f.Integer {
		return int64(x), problem{}
	}
	return x, problem{}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		x, err := n.Float64()
		return x, err == nil
	}
	return 0, false
}
