package records

import (
	"fmt"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
)

// condition compiles n, a checked filter or rule over c, to an SQL
// condition over the alias t with placeholders from $next on. A nil n
// gives "".
func (s *Store) condition(c *schema.Collection, n expr.Node, auth expr.Auth, next int) (string, []any, error) {
	if n == nil {
		return "", nil, nil
	}
	text, args, err := expr.SQL(n, s.reg, c.Name, s.dialect, auth, next)
	if err != nil {
		return "", nil, fmt.Errorf("records: compile %q over %s: %w", n.String(), c.Name, err)
	}
	return text, args, nil
}

// rule compiles the rule of access, if any.
func (s *Store) rule(c *schema.Collection, a *Access, next int) (string, []any, error) {
	if a == nil {
		return "", nil, nil
	}
	return s.condition(c, a.Rule, a.Auth, next)
}

// auth returns the caller of access (nil: nobody in particular).
func (a *Access) auth() expr.Auth {
	if a == nil {
		return nil
	}
	return a.Auth
}
