package schema

import "github.com/bamhq/bam/internal/content/expr"

// GuardedBy returns s as an expr.Guarded whose ViewRule is view: what one
// caller may view of each collection (visible false: nothing; a nil rule:
// everything). Snapshot and Registry do not guard relations themselves,
// since what is visible depends on the caller: the service wraps the
// snapshot it compiles a caller's filter with, so that the filter cannot
// read through a relation into records the caller may not view.
func GuardedBy(s expr.Schema, view func(collection string) (rule expr.Node, visible bool)) expr.Schema {
	return guarded{Schema: s, view: view}
}

// guarded is what GuardedBy returns.
type guarded struct {
	expr.Schema
	view func(collection string) (expr.Node, bool)
}

// ViewRule implements expr.Guarded.
func (g guarded) ViewRule(collection string) (expr.Node, bool) { return g.view(collection) }
