package schema

import (
	"fmt"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

// ParseDate reads a date as records take it: RFC 3339 (any offset,
// optional fraction), or a date alone meaning midnight UTC. The result is
// UTC, truncated to the millisecond, in years 1 to 9999.
func ParseDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, false
		}
	}
	t = t.UTC().Truncate(time.Millisecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func encodeDate(v any, d store.Dialect) (any, problem) {
	s, ok := v.(string)
	if !ok {
		if t, ok := v.(time.Time); ok { // Go callers
			s = t.Format(time.RFC3339Nano)
		} else {
			return nil, bad("invalid_type", "must be a date string")
		}
	}
	if s == "" {
		return nil, problem{}
	}
	t, ok := ParseDate(s)
	if !ok {
		return nil, bad("invalid_date", "not a date: want RFC 3339, e.g. 2026-01-02T15:04:05Z")
	}
	return dateArg(t, d), problem{}
}

// dateArg is how a time is bound in dialect d: time.Time on PostgreSQL
// (timestamptz), the fixed-width expr.DateLayout text on SQLite.
func dateArg(t time.Time, d store.Dialect) any {
	t = t.UTC().Truncate(time.Millisecond)
	if d == store.Postgres {
		return t
	}
	return t.Format(expr.DateLayout)
}

// dateText turns a scanned date (time.Time, or text on SQLite) into
// expr.DateLayout.
func dateText(v any) (string, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(expr.DateLayout), nil
	case string:
		return normalizeDate(t)
	case []byte:
		return normalizeDate(string(t))
	}
	return "", fmt.Errorf("not a date: %T", v)
}

func normalizeDate(s string) (string, error) {
	if len(s) == len(expr.DateLayout) && strings.HasSuffix(s, "Z") {
		return s, nil // the stored form: the common case costs nothing
	}
	t, ok := ParseDate(s)
	if !ok {
		return "", fmt.Errorf("not a date: %q", s)
	}
	return t.Format(expr.DateLayout), nil
}
