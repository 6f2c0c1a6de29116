package content

import (
	"github.com/bamhq/bam/internal/content/expr"
)

// evalRecord implements expr.Record over a record of a change: a path
// that passes relations reads the related records from the change's
// preloaded data. With a guard (a filter's caller), only the related
// records the caller may view are seen, decided by evaluating the target
// collection's view rule over each (guarded in turn, within expr.MaxHops
// hops from the top): what the filter's SQL reads through expr.Guarded.
type evalRecord struct {
	s          *Service
	data       *changeData
	collection string
	prefix     string // the relation path leading here, "" at the top
	hops       int    // relations followed to get here
	rec        map[string]any
	guard      *caller // nil: every related record is seen (rules)
	unknown    *bool   // set when a path needed data the change lacks
}

func (r *evalRecord) Value(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	v, ok := r.rec[path[0]]
	if len(path) == 1 {
		return v, ok
	}
	c, ok := r.s.Registry.Get(r.collection)
	if !ok {
		return nil, false
	}
	f, ok := relationField(c, path[0])
	if !ok {
		return nil, false
	}
	if r.hops >= expr.MaxHops {
		return nil, false // past the budget a hop leads to no record, as in SQL
	}
	prefix := path[0]
	if r.prefix != "" {
		prefix = r.prefix + "." + path[0]
	}
	related, loaded := r.data.related(prefix, relationIDs(v))
	if !loaded {
		if len(relationIDs(v)) > 0 {
			*r.unknown = true
		}
		return nil, false
	}
	var out []any
	for _, rel := range related {
		sub := &evalRecord{s: r.s, data: r.data, collection: f.Collection, prefix: prefix, hops: r.hops + 1,
			rec: rel, guard: r.guard, unknown: r.unknown}
		if !sub.visible() {
			continue
		}
		v, ok := sub.Value(path[1:])
		if !f.Multi {
			return v, ok
		}
		if !ok {
			continue
		}
		if l, isList := v.([]any); isList {
			out = append(out, l...)
		} else {
			out = append(out, v)
		}
	}
	if !f.Multi {
		return nil, true // no related record (visible): null
	}
	return out, true
}

// visible reports whether the guard's caller may view r, a related record
// (always without a guard).
func (r *evalRecord) visible() bool {
	if r.guard == nil {
		return true
	}
	rule, visible := r.s.viewRule(r.collection)
	if !visible {
		return false
	}
	if rule == nil {
		return true
	}
	ok, err := expr.Eval(rule, r, r.guard.auth)
	return err == nil && ok
}
