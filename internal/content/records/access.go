package records

import (
	"fmt"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
)

// condition compiles n, a checked filter or rule over c, to an SQL
// condition over the alias t with placeholders from $next on, reading
// names through sch. A nil n gives "".
func (s *Store) condition(c *schema.Collection, sch expr.Schema, n expr.Node, auth expr.Auth, next int) (string, []any, error) {
	if n == nil {
		return "", nil, nil
	}
	text, args, err := expr.SQL(n, sch, c.Name, s.dialect, auth, next)
	if err != nil {
		return "", nil, fmt.Errorf("records: compile %q over %s: %w", n.String(), c.Name, err)
	}
	return text, args, nil
}

// rule compiles the rule of access, if any. Rules are the collection
// owner's, trusted: the relations they follow read every related record.
func (s *Store) rule(c *schema.Collection, a *Access, next int) (string, []any, error) {
	if a == nil {
		return "", nil, nil
	}
	return s.condition(c, s.reg, a.Rule, a.Auth, next)
}

// filter compiles the caller's filter n over c: through a relation it
// reads only the related records a.Views admits (see Access.Views).
func (s *Store) filter(c *schema.Collection, a *Access, n expr.Node, next int) (string, []any, error) {
	return s.condition(c, s.guarded(a), n, a.auth(), next)
}

// guarded is the schema the caller of a compiles filters with: the
// registry, guarded by a.Views when there is one.
func (s *Store) guarded(a *Access) expr.Schema {
	if a == nil || a.Views == nil {
		return s.reg
	}
	return schema.GuardedBy(s.reg, a.Views)
}

// auth returns the caller of access (nil: nobody in particular).
func (a *Access) auth() expr.Auth {
	if a == nil {
		return nil
	}
	return a.Auth
}

// view returns the caller's view rule of collection, as an Access over
// that collection: ok false when the caller may view none of its records.
// A nil a, or one without Views, views everything (nil Access).
func (a *Access) view(collection string) (acc *Access, ok bool) {
	if a == nil || a.Views == nil {
		return nil, true
	}
	rule, visible := a.Views(collection)
	if !visible {
		return nil, false
	}
	return &Access{Rule: rule, Auth: a.Auth, Views: a.Views}, true
}
