package records

import (
	"context"
	"fmt"
	"strings"

	"github.com/bamhq/bam/internal/store"
)

// owned reads the records of m that one of its owner fields gives to user,
// in id order.
func (s *Store) owned(ctx context.Context, q store.Querier, m *meta, user string) ([]Record, error) {
	text := m.text("owned", func() string {
		conds := make([]string, len(m.owners))
		for i, ci := range m.owners {
			conds[i] = m.cols[ci].sql + " = $1"
		}
		return "SELECT " + m.selectAll + " FROM " + m.table + " t WHERE " + strings.Join(conds, " OR ") + ` ORDER BY t."id"`
	})
	rows, err := q.QueryContext(ctx, text, user)
	if err != nil {
		return nil, fmt.Errorf("records: records of %s owned by a user: %w", m.c.Name, err)
	}
	return m.reader(m.all).all(rows)
}

// anonymize sets to null the owner fields of recs (records of m) that hold
// user.
func (s *Store) anonymize(ctx context.Context, tx *store.Tx, m *meta, recs []Record, user string) ([]Changed, error) {
	var out []Changed
	for _, old := range recs {
		vals := map[string]any{}
		for _, ci := range m.owners {
			if name := m.cols[ci].name; old[name] == user {
				vals[name] = nil
			}
		}
		if len(vals) == 0 {
			continue
		}
		ch, err := s.rewrite(ctx, tx, m, old, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, *ch)
	}
	return out, nil
}
