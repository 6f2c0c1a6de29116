package records

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// removal deletes a set of records and applies the on-delete actions of the
// relations that point at them, in four steps: follow cascades to the full
// set of records to delete; refuse if a restrict relation from outside the
// set points into it; empty the set_null references from outside the set;
// delete the set.
type removal struct {
	s        *Store
	tx       *store.Tx
	order    []node                         // the records to delete, roots first, then in discovery order
	in       map[string]map[string]struct{} // collection → ids of the set
	refs     map[string][]referrer          // target collection → relation fields pointing at it
	roots    int                            // order[:roots] were asked for
	followed int                            // order[:followed] had their cascades followed
	version  int64                          // > 0: the only root must still have this version
}

// node is one record to delete.
type node struct {
	m  *meta
	id string
}

// referrer is a relation field pointing at some collection.
type referrer struct {
	m        *meta
	col      int
	onDelete string
}

func (s *Store) removal(tx *store.Tx) *removal {
	return &removal{s: s, tx: tx, in: map[string]map[string]struct{}{}}
}

// add puts a root into the set.
func (r *removal) add(m *meta, id string) {
	if r.insert(m, id) {
		r.roots = len(r.order)
	}
}

// insert puts record id of m into the set; false if it was there.
func (r *removal) insert(m *meta, id string) bool {
	ids := r.in[m.c.Name]
	if ids == nil {
		ids = map[string]struct{}{}
		r.in[m.c.Name] = ids
	}
	if _, ok := ids[id]; ok {
		return false
	}
	ids[id] = struct{}{}
	r.order = append(r.order, node{m, id})
	return true
}

func (r *removal) has(collection, id string) bool {
	_, ok := r.in[collection][id]
	return ok
}

// referrers lists the relation fields, in every collection, that target
// collection.
func (r *removal) referrers(collection string) []referrer {
	if r.refs == nil {
		r.refs = map[string][]referrer{}
		for _, c := range r.s.reg.All() {
			m := r.s.meta(c)
			for _, ci := range m.relations {
				f := m.cols[ci].field
				on := f.OnDelete
				if on == "" {
					on = schema.Restrict
				}
				r.refs[f.Collection] = append(r.refs[f.Collection], referrer{m: m, col: ci, onDelete: on})
			}
		}
	}
	return r.refs[collection]
}

// run carries the removal out.
func (r *removal) run(ctx context.Context) ([]Deleted, []Changed, error) {
	if len(r.order) == 0 {
		return nil, nil, nil
	}
	if err := r.cascade(ctx); err != nil {
		return nil, nil, err
	}
	if err := r.restrict(ctx); err != nil {
		return nil, nil, err
	}
	changed, err := r.setNull(ctx)
	if err != nil {
		return nil, nil, err
	}
	deleted, err := r.delete(ctx)
	if err != nil {
		return nil, nil, err
	}
	return deleted, changed, nil
}

// cascade adds every record a cascade relation reaches from the set, level
// by level; a record already in the set is not followed again, so cycles
// end.
func (r *removal) cascade(ctx context.Context) error {
	for r.followed < len(r.order) {
		level := byCollection(r.order[r.followed:])
		r.followed = len(r.order)
		for _, g := range level {
			for _, ref := range r.referrers(g.m.c.Name) {
				if ref.onDelete != schema.Cascade {
					continue
				}
				ids, err := r.referencing(ctx, ref, g.ids)
				if err != nil {
					return err
				}
				for _, id := range ids {
					r.insert(ref.m, id)
				}
			}
		}
	}
	return nil
}

// restrict refuses the removal if a restrict relation of a record outside
// the set points into it.
func (r *removal) restrict(ctx context.Context) error {
	ref, found, err := r.restricting(ctx, r)
	if err != nil || !found {
		return err
	}
	return errs.E(errs.Conflict, CodeRestricted,
		"Records of %s refer to this record through %s, which restricts its deletion.",
		ref.m.c.Name, ref.m.cols[ref.col].name).
		WithField(ref.m.c.Name+"."+ref.m.cols[ref.col].name, "restricted", "refers to the record")
}

// restrictedBy reports whether a restrict relation of a record outside
// the set of outer points into r's set.
func (r *removal) restrictedBy(ctx context.Context, outer *removal) (bool, error) {
	_, found, err := r.restricting(ctx, outer)
	return found, err
}

// restricting finds a restrict relation of a record outside the set of
// outer that points into r's set.
func (r *removal) restricting(ctx context.Context, outer *removal) (referrer, bool, error) {
	for _, g := range byCollection(r.order) {
		for _, ref := range r.referrers(g.m.c.Name) {
			if ref.onDelete != schema.Restrict {
				continue
			}
			ids, err := r.referencing(ctx, ref, g.ids)
			if err != nil {
				return referrer{}, false, err
			}
			for _, id := range ids {
				if !outer.has(ref.m.c.Name, id) {
					return ref, true, nil
				}
			}
		}
	}
	return referrer{}, false, nil
}

// setNull empties the set_null references that records outside the set
// hold to records in it.
func (r *removal) setNull(ctx context.Context) ([]Changed, error) {
	type target struct {
		m   *meta
		ids []string
	}
	var targets []*target
	seen := map[string]*target{}
	for _, g := range byCollection(r.order) {
		for _, ref := range r.referrers(g.m.c.Name) {
			if ref.onDelete != schema.SetNull {
				continue
			}
			ids, err := r.referencing(ctx, ref, g.ids)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if r.has(ref.m.c.Name, id) {
					continue
				}
				t := seen[ref.m.c.Name]
				if t == nil {
					t = &target{m: ref.m}
					seen[ref.m.c.Name] = t
					targets = append(targets, t)
				}
				t.ids = append(t.ids, id)
			}
		}
	}
	var changed []Changed
	for _, t := range targets {
		slices.Sort(t.ids)
		for _, id := range slices.Compact(t.ids) {
			ch, err := r.unlink(ctx, t.m, id)
			if err != nil {
				return nil, err
			}
			if ch != nil {
				changed = append(changed, *ch)
			}
		}
	}
	return changed, nil
}

// unlink removes from record id of m every set_null reference to a record
// of the set.
func (r *removal) unlink(ctx context.Context, m *meta, id string) (*Changed, error) {
	old, err := r.s.get(ctx, r.tx, m, id, nil, true)
	if err != nil || old == nil {
		return nil, err
	}
	vals := map[string]any{}
	for _, ci := range m.relations {
		f := m.cols[ci].field
		if f.OnDelete != schema.SetNull {
			continue
		}
		switch v := old[f.Name].(type) {
		case string:
			if r.has(f.Collection, v) {
				vals[f.Name] = nil
			}
		case []any:
			kept := slices.DeleteFunc(slices.Clone(v), func(e any) bool {
				s, ok := e.(string)
				return ok && r.has(f.Collection, s)
			})
			switch {
			case len(kept) == len(v):
			case len(kept) == 0:
				vals[f.Name] = nil // an empty list is null, as Encode writes it
			default:
				b, err := json.Marshal(kept)
				if err != nil {
					return nil, fmt.Errorf("records: %s.%s: %w", m.c.Name, f.Name, err)
				}
				vals[f.Name] = string(b)
			}
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	return r.s.rewrite(ctx, r.tx, m, old, vals)
}

// delete deletes the set, roots first, and returns the records deleted.
func (r *removal) delete(ctx context.Context) ([]Deleted, error) {
	var out []Deleted
	for i, n := range r.order {
		text := `DELETE FROM ` + n.m.table + ` WHERE "id" = $1`
		args := []any{n.id}
		if i == 0 && r.version > 0 {
			text += ` AND "version" = $2`
			args = append(args, r.version)
		}
		rows, err := r.tx.QueryContext(ctx, text+" RETURNING "+n.m.returning(), args...)
		if err != nil {
			return nil, fmt.Errorf("records: delete from %s: %w", n.m.c.Name, err)
		}
		rec, err := n.m.reader(n.m.all).one(rows)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			if i < r.roots && r.version > 0 {
				return nil, precondition() // changed or deleted since read
			}
			continue
		}
		r.s.wrote(r.tx, n.m.table)
		out = append(out, Deleted{Collection: n.m.c, Record: rec})
	}
	return out, nil
}

// rewrite sets the columns vals (field name → column value, as Encode
// gives them) of record old of m, bumping its version, and returns the
// change.
func (s *Store) rewrite(ctx context.Context, tx *store.Tx, m *meta, old Record, vals map[string]any) (*Changed, error) {
	idx, err := m.encoded(vals)
	if err != nil {
		return nil, err
	}
	rec, err := s.write(ctx, tx, m, old, vals, idx)
	if err != nil {
		return nil, fmt.Errorf("records: update %s: %w", m.c.Name, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("records: update %s %v: %w", m.c.Name, old[fID], errConcurrent)
	}
	return &Changed{Collection: m.c, Old: old, New: rec}, nil
}

var errConcurrent = errs.E(errs.Conflict, CodeConflict, "A record changed while this one was deleted; try again.")
