package records

import (
	"context"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Deleted is a record removed by Delete: the one asked for, or one reached
// through an on-delete cascade.
type Deleted struct {
	Collection *schema.Collection
	Record     Record
}

// Changed is a record Delete changed through on-delete set_null, or
// ForgetOwner anonymised.
type Changed struct {
	Collection *schema.Collection
	Old, New   Record
	// Restricted: ForgetOwner was to delete the record, but a restrict
	// relation holds it, so it anonymised it instead.
	Restricted bool
}

// Delete removes record id of c in tx, applying the on-delete action of
// every relation that points at it (restrict: errs Conflict).
//
// A record access does not admit is errs NotFound; ifVersion > 0 that is
// not the current version is errs Precondition. Relations of every
// collection of the registry that target c are followed: cascade deletes
// the referencing records too (recursively; cycles end), set_null empties
// the reference (a multi relation loses the id) and bumps the referencing
// record's version, restrict refuses the whole deletion with errs Conflict
// (content.restricted) naming the referencing collection, unless the
// referencing record is itself being deleted. The asked record is the
// first of the Deleted.
func (s *Store) Delete(ctx context.Context, tx *store.Tx, c *schema.Collection, id string, ifVersion int64, access *Access) ([]Deleted, []Changed, error) {
	m := s.meta(c)
	rec, err := s.get(ctx, tx, m, id, access, true)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, notFound(c.Name)
	}
	if ifVersion > 0 && ifVersion != versionOf(rec) {
		return nil, nil, precondition()
	}
	r := s.removal(tx)
	r.add(m, id)
	r.version = ifVersion // the root must still be at it when deleted
	return r.run(ctx)
}

// ForgetOwner deletes or anonymises (per collection) every record owned by
// user in tx.
//
// Collections whose OnUserDeleted is "anonymize" get the owner fields that
// hold user set to null (reported as Changed, version bumped); the records
// of the others are deleted as Delete deletes, relations followed, except
// those whose deletion a restrict relation from a record that stays
// refuses: those are anonymised instead (Changed with Restricted set), so
// that the user's deletion completes rather than failing for ever.
// Running it again finds nothing left to do.
func (s *Store) ForgetOwner(ctx context.Context, tx *store.Tx, user string) ([]Deleted, []Changed, error) {
	if user == "" {
		return nil, nil, nil
	}
	var changed []Changed
	var roots []owned
	for _, c := range s.reg.All() {
		m := s.meta(c)
		if len(m.owners) == 0 {
			continue
		}
		recs, err := s.owned(ctx, tx, m, user)
		if err != nil {
			return nil, nil, err
		}
		if c.OnUserDeleted == schema.AnonymizeOwned {
			ch, err := s.anonymize(ctx, tx, m, recs, user)
			if err != nil {
				return nil, nil, err
			}
			changed = append(changed, ch...)
			continue
		}
		for _, rec := range recs {
			roots = append(roots, owned{m: m, rec: rec})
		}
	}
	r, held, err := s.deletable(ctx, tx, roots)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range held {
		ch, err := s.anonymize(ctx, tx, h.m, []Record{h.rec}, user)
		if err != nil {
			return nil, nil, err
		}
		for i := range ch {
			ch[i].Restricted = true
		}
		changed = append(changed, ch...)
	}
	deleted, more, err := r.run(ctx)
	return deleted, append(changed, more...), err
}

// owned is a record to forget.
type owned struct {
	m   *meta
	rec Record
}

// deletable returns the removal of roots except those a restrict relation
// holds (from a record outside the removal), and those held. Each round
// leaves out the roots whose own deletion, cascades included, the
// relation refuses, then tries again without them (what they would have
// cascaded to stays too, and may hold others).
func (s *Store) deletable(ctx context.Context, tx *store.Tx, roots []owned) (*removal, []owned, error) {
	var held []owned
	for {
		r := s.removal(tx)
		for _, o := range roots {
			r.add(o.m, o.rec[fID].(string))
		}
		if err := r.cascade(ctx); err != nil {
			return nil, nil, err
		}
		err := r.restrict(ctx)
		if errs.CodeOf(err) != CodeRestricted {
			return r, held, err
		}
		var keep []owned
		for _, o := range roots {
			alone := s.removal(tx)
			alone.add(o.m, o.rec[fID].(string))
			if err := alone.cascade(ctx); err != nil {
				return nil, nil, err
			}
			refused, err := alone.restrictedBy(ctx, r)
			if err != nil {
				return nil, nil, err
			}
			if refused {
				held = append(held, o)
			} else {
				keep = append(keep, o)
			}
		}
		if len(keep) == len(roots) { // cannot happen: some root reaches what is held
			return nil, nil, err
		}
		roots = keep
	}
}
