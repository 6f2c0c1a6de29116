package records

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// getMax is how many ids one GetMany query asks for.
const getMax = 500

// Get returns record id of c if access admits it; errs NotFound otherwise.
func (s *Store) Get(ctx context.Context, q store.Querier, c *schema.Collection, id string, access *Access) (Record, error) {
	m := s.meta(c)
	rec, err := s.get(ctx, q, m, id, access, false)
	if err == nil && rec == nil {
		err = notFound(c.Name)
	}
	return rec, err
}

// get reads record id of m if access admits it; nil if not. lock locks the
// row until the transaction q ends (PostgreSQL; SQLite transactions hold
// the database's write lock already).
func (s *Store) get(ctx context.Context, q store.Querier, m *meta, id string, access *Access, lock bool) (Record, error) {
	if !storable(id) {
		return nil, nil // no record has it: PostgreSQL would refuse the text itself
	}
	rule, args, err := s.rule(m.c, access, 2)
	if err != nil {
		return nil, err
	}
	text := m.getByID
	if rule != "" {
		text += " AND (" + rule + ")"
	}
	if lock && s.dialect == store.Postgres {
		text += " FOR UPDATE OF t"
	}
	rows, err := s.query(ctx, q, true, text, append([]any{id}, args...)...)
	if err != nil {
		return nil, err
	}
	return m.reader(m.all).one(rows)
}

// storable reports whether s can be a text both databases store: valid
// UTF-8 without NUL (PostgreSQL refuses the others, SQLite keeps them).
// What a client sends as an id or in a cursor is checked with it, so that
// such input is a miss or an invalid cursor on both, not a 500 on one.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// GetMany returns the records of c among ids that access admits (for
// expand), in no particular order.
func (s *Store) GetMany(ctx context.Context, q store.Querier, c *schema.Collection, ids []string, access *Access) ([]Record, error) {
	m := s.meta(c)
	ids = slices.DeleteFunc(unique(ids), func(id string) bool { return !storable(id) })
	var out []Record
	for len(ids) > 0 {
		n := min(len(ids), getMax)
		recs, err := s.getMany(ctx, q, m, ids[:n], access)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		ids = ids[n:]
	}
	return out, nil
}

func (s *Store) getMany(ctx context.Context, q store.Querier, m *meta, ids []string, access *Access) ([]Record, error) {
	rule, ruleArgs, err := s.rule(m.c, access, len(ids)+1)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("SELECT " + m.selectAll + " FROM " + m.table + " t WHERE t.\"id\" IN (" + placeholders(1, len(ids)) + ")")
	if rule != "" {
		b.WriteString(" AND (" + rule + ")")
	}
	args := make([]any, 0, len(ids)+len(ruleArgs))
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := q.QueryContext(ctx, b.String(), append(args, ruleArgs...)...)
	if err != nil {
		return nil, err
	}
	return m.reader(m.all).all(rows)
}

// placeholders returns "$from, $from+1, …" (n of them).
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// unique returns ids without repeats and empty strings, in first-seen order.
func unique(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup || id == "" {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}
