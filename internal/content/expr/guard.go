package expr

import "fmt"

// Guarded is a Schema that also says which records of each collection the
// caller may view. When the Schema given to SQL or SQLAt implements it,
// every relation a path follows (author.name, editors.name, a.b.c) reads
// only the related records of collection T that ViewRule(T) admits, so
// that a filter cannot probe a collection through a relation: a related
// record the caller may not view counts as missing (author.phone ~ "555"
// is false, author.phone = null true).
//
// ViewRule returns T's view rule for the caller: visible false means the
// caller may view no record of T; a nil rule with visible true, every
// record (an admin, or an empty rule). The rule must be one Parse made,
// and is compiled over the related record with the same caller and @now;
// relations it follows are guarded in turn. The relation hops of a filter
// and of the rules it pulls in share one budget, MaxHops deep from the
// collection filtered: a hop beyond it leads to no record (so rules that
// follow relations cannot recurse without end, and fail closed).
//
// Eval does not use it: the caller gives Eval related records it may view
// (missing otherwise), which has the same meaning.
type Guarded interface {
	Schema
	ViewRule(collection string) (rule Node, visible bool)
}

// maxCompiledComparisons bounds the comparisons of one SQL call, the view
// rules pulled in by relations included: each relation of a filter brings
// in its target's rule, whose relations bring in theirs.
const maxCompiledComparisons = 64 * MaxComparisons

// errTooComplex is an *Error (at 0): the filter is what to simplify.
var errTooComplex = errAt(0, "too complex once the view rules of the collections it reaches are applied")

// viewRule compiles the view rule of collection target over the related
// row aliased alias, depth relation hops from "t": TRUE when there is
// nothing to check, FALSE when no row can be seen.
func (g *gen) viewRule(target, alias string, depth int) frag {
	if g.guard == nil {
		return fTrue
	}
	if depth > MaxHops {
		return fFalse
	}
	rule, visible := g.guard.ViewRule(target)
	if !visible {
		return fFalse
	}
	if rule == nil {
		return fTrue
	}
	p, err := check(rule, g.s, target)
	if err != nil {
		// Not an *Error: the caller's expression is not at fault.
		g.fail(fmt.Errorf("expr: the view rule of collection %q does not check: %v", target, err))
		return fFalse
	}
	base, d := g.base, g.depth
	g.base, g.depth = alias, depth
	f := g.node(p.root, false)
	g.base, g.depth = base, d
	return f
}
