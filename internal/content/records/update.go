package records

import (
	"context"
	"maps"
	"strconv"
	"strings"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// Update changes record id of c in tx (schema.Patch or schema.Replace). A
// record access does not admit is errs NotFound; ifVersion > 0 that is not
// the current version is errs Precondition. The rule must admit the record
// as changed too (checked in tx after the write, as Write checks the
// create rule): if not, errs Forbidden (content.forbidden), and the caller
// rolls tx back. It returns the old and new record.
//
// The record is read locked (PostgreSQL: FOR UPDATE; SQLite transactions
// hold the write lock from BEGIN), so concurrent updates queue and each
// sees the version the one before wrote. Owner fields keep their value
// (they are set on create only). Relation ids are checked as Write checks
// them. The version goes up by one and updated is set to now, even when no
// value changes.
func (s *Store) Update(ctx context.Context, tx *store.Tx, c *schema.Collection, id string, input map[string]any, mode schema.Mode, ifVersion int64, access *Access) (old, updated Record, err error) {
	m := s.meta(c)
	vals, err := c.Encode(input, mode, "", s.dialect)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range m.owners {
		delete(vals, m.cols[i].name)
	}
	idx, err := m.encoded(vals)
	if err != nil {
		return nil, nil, err
	}
	old, err = s.get(ctx, tx, m, id, access, true)
	if err != nil {
		return nil, nil, err
	}
	if old == nil {
		return nil, nil, notFound(c.Name)
	}
	if ifVersion > 0 && ifVersion != versionOf(old) {
		return nil, nil, precondition()
	}
	if err := s.checkRelations(ctx, tx, m, input, access); err != nil {
		return nil, nil, err
	}
	updated, err = s.write(ctx, tx, m, old, vals, idx)
	if err != nil {
		return nil, nil, m.uniqueError(err)
	}
	if updated == nil { // cannot happen with the row locked; kept as a guard
		return nil, nil, precondition()
	}
	if err := s.admit(ctx, tx, m, id, access, "update"); err != nil {
		return nil, nil, err
	}
	return old, updated, nil
}

// write sets the field columns idx to vals (from Encode) in record old of
// m, if its version is still old's, bumping the version and setting
// updated. It returns the new record, or nil when the version moved on.
// The UPDATE returns no rows, so that it stays prepared in the
// transaction (see Write).
func (s *Store) write(ctx context.Context, tx *store.Tx, m *meta, old Record, vals map[string]any, idx []int) (Record, error) {
	now := s.stamp()
	version := versionOf(old)
	args := make([]any, 0, len(idx)+3)
	for _, i := range idx {
		args = append(args, vals[m.cols[i].name])
	}
	args = append(args, s.dateArg(now), old[fID], version)
	res, err := tx.ExecContext(ctx, m.updateSQL(idx), args...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	s.wrote(tx, m.table)
	rec := maps.Clone(old)
	rec[fUpdated], rec[fVersion] = now.Format(expr.DateLayout), float64(version+1)
	if err := m.overlay(rec, vals); err != nil {
		return nil, err
	}
	return rec, nil
}

// updateSQL is the UPDATE of the field columns idx ($1…$n), then updated
// ($n+1), of the record whose id and version are $n+2 and $n+3.
func (m *meta) updateSQL(idx []int) string {
	return m.text(shapeKey("upd", idx), func() string {
		var b strings.Builder
		b.WriteString("UPDATE " + m.table + " SET ")
		for n, i := range idx {
			b.WriteString(m.cols[i].bare + " = $" + strconv.Itoa(n+1) + ", ")
		}
		n := len(idx)
		b.WriteString(`"version" = "version" + 1, "updated" = $` + strconv.Itoa(n+1) +
			` WHERE "id" = $` + strconv.Itoa(n+2) + ` AND "version" = $` + strconv.Itoa(n+3))
		return b.String()
	})
}

// versionOf returns the version of a record read by the store.
func versionOf(r Record) int64 {
	switch v := r[fVersion].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}
