package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// A Draft is a record of a collection made from input and not yet
// written. Drafting needs no database, so it is done before the write
// transaction, which then holds SQLite's single write lock only for the
// statements (Write).
type Draft struct {
	m     *meta
	input map[string]any
	vals  map[string]any // column values, from Encode
	idx   []int          // the field columns vals sets
	id    string
	now   time.Time // created and updated
	rec   Record
}

// Draft validates and converts input by c.Encode (owner fills the owner
// fields) and makes the record: a UUIDv7 id, created = updated = now
// (milliseconds), version 1.
func (s *Store) Draft(c *schema.Collection, input map[string]any, owner string) (*Draft, error) {
	m := s.meta(c)
	vals, err := c.Encode(input, schema.Create, owner, s.dialect)
	if err != nil {
		return nil, err
	}
	idx, err := m.encoded(vals)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("records: new id: %w", err)
	}
	now := s.stamp()
	stamp := now.Format(expr.DateLayout)
	rec := make(Record, len(m.cols))
	for _, col := range m.cols[nSystem:] {
		rec[col.name] = nil
	}
	rec[fID], rec[fCreated], rec[fUpdated], rec[fVersion] = id.String(), stamp, stamp, float64(1)
	if err := m.overlay(rec, vals); err != nil {
		return nil, err
	}
	return &Draft{m: m, input: input, vals: vals, idx: idx, id: id.String(), now: now, rec: rec}, nil
}

// Record is the record d makes, as Write returns it. It is d's own: not
// to be changed.
func (d *Draft) Record() Record { return d.rec }

// Write inserts d in tx; access (the create rule) is checked against the
// new row and a refusal is errs Forbidden. Every relation id must name an
// existing record of its target collection (each missing one is a field
// error); a value taken by another record in a unique field is a field
// error too. It returns d's record; d may be written again in another
// transaction when tx rolls back.
func (s *Store) Write(ctx context.Context, tx *store.Tx, d *Draft, access *Access) (Record, error) {
	m := d.m
	if err := s.checkRelations(ctx, tx, m, d.input, access); err != nil {
		return nil, err
	}
	args := make([]any, 0, 3+len(d.idx))
	args = append(args, d.id, s.dateArg(d.now), s.dateArg(d.now))
	for _, i := range d.idx {
		args = append(args, d.vals[m.cols[i].name])
	}
	// No RETURNING: a statement without open rows stays prepared for the
	// next insert of the same transaction (store.Tx), which matters to
	// batches and imports. The record is made from the values written.
	if _, err := tx.ExecContext(ctx, m.insertSQL(d.idx), args...); err != nil {
		return nil, m.uniqueError(err)
	}
	s.index.Inserted(tx, m.c) // before wrote: a List that counts after this commit finds the rows (list.go)
	s.wrote(tx, m.table)
	if err := s.admit(ctx, tx, m, d.id, access, "create"); err != nil {
		return nil, err
	}
	return d.rec, nil
}

// admit checks that access (the rule of op) admits row id of m as tx
// sees it, written: errs Forbidden if not.
func (s *Store) admit(ctx context.Context, tx *store.Tx, m *meta, id string, access *Access, op string) error {
	rule, args, err := s.rule(m.c, access, 2)
	if err != nil || rule == "" {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM "+m.table+` t WHERE t."id" = $1 AND (`+rule+")", append([]any{id}, args...)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return forbidden(m.c.Name, op)
	}
	return err
}

// overlay sets in rec the JSON values of vals, column values as Encode
// makes them, decoded as if read back.
func (m *meta) overlay(rec Record, vals map[string]any) error {
	for name, v := range vals {
		col, ok := m.column(name)
		if !ok {
			return fmt.Errorf("records: %s has no column %q", m.c.Name, name)
		}
		out, err := m.decode(col, v)
		if err != nil {
			return err
		}
		rec[name] = out
	}
	return nil
}

// encoded returns the indexes of the field columns vals (from Encode) sets,
// in table order.
func (m *meta) encoded(vals map[string]any) ([]int, error) {
	idx := make([]int, 0, len(vals))
	for i := nSystem; i < len(m.cols); i++ {
		if _, ok := vals[m.cols[i].name]; ok {
			idx = append(idx, i)
		}
	}
	if len(idx) != len(vals) {
		for name := range vals {
			if col, ok := m.column(name); !ok || col.system() {
				return nil, fmt.Errorf("records: %s: Encode returned column %q, which is not a field", m.c.Name, name)
			}
		}
	}
	return idx, nil
}

// shapeKey names a set of columns in a cache key.
func shapeKey(prefix string, idx []int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, i := range idx {
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// insertSQL is the INSERT of a record setting the field columns idx
// ($4, $5, … after id, created, updated).
func (m *meta) insertSQL(idx []int) string {
	return m.text(shapeKey("ins", idx), func() string {
		var b strings.Builder
		b.WriteString("INSERT INTO " + m.table + ` ("id", "created", "updated", "version"`)
		for _, i := range idx {
			b.WriteString(", " + m.cols[i].bare)
		}
		b.WriteString(") VALUES ($1, $2, $3, 1")
		for n := range idx {
			b.WriteString(", $" + strconv.Itoa(4+n))
		}
		b.WriteString(")")
		return b.String()
	})
}

// returning lists every column, unqualified, for RETURNING clauses.
func (m *meta) returning() string {
	return m.text("ret", func() string {
		bare := make([]string, len(m.cols))
		for i := range m.cols {
			bare[i] = m.cols[i].bare
		}
		return strings.Join(bare, ", ")
	})
}
