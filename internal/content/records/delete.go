package records

import (
	"context"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// Deleted is a record removed by Delete: the one asked for, or one reached
// through an on-delete cascade.
type Deleted struct {
	Collection *schema.Collection
	Record     Record
}

// Changed is a record Delete changed through on-delete set_null.
type Changed struct {
	Collection *schema.Collection
	Old, New   Record
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
// of the others are deleted as Delete deletes, relations followed: a
// restrict relation from a record that stays fails the whole call with
// errs Conflict (content.restricted), and the caller's tx rolls back.
// Running it again finds nothing left to do.
func (s *Store) ForgetOwner(ctx context.Context, tx *store.Tx, user string) ([]Deleted, []Changed, error) {
	if user == "" {
		return nil, nil, nil
	}
	r := s.removal(tx)
	var changed []Changed
	for _, c := range s.reg.All() {
		m := s.meta(c)
		if len(m.owners) == 0 {
			continue
		}
		owned, err := s.owned(ctx, tx, m, user)
		if err != nil {
			return nil, nil, err
		}
		if c.OnUserDeleted == schema.AnonymizeOwned {
			ch, err := s.anonymize(ctx, tx, m, owned, user)
			if err != nil {
				return nil, nil, err
			}
			changed = append(changed, ch...)
			continue
		}
		for _, rec := range owned {
			r.add(m, rec[fID].(string))
		}
	}
	deleted, more, err := r.run(ctx)
	return deleted, append(changed, more...), err
}
