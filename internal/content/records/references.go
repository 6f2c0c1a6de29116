package records

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/store"
)

// referencing returns the ids of the records of ref.m whose field ref.col
// refers to one of ids.
func (r *removal) referencing(ctx context.Context, ref referrer, ids []string) ([]string, error) {
	col := ref.m.cols[ref.col]
	var out []string
	for len(ids) > 0 {
		n := min(len(ids), getMax)
		in := placeholders(1, n)
		var cond string
		switch {
		case !col.field.IsMulti():
			cond = col.sql + " IN (" + in + ")"
		case r.s.dialect == store.Postgres:
			cond = "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + col.sql + ") e WHERE e IN (" + in + "))"
		default:
			cond = "EXISTS (SELECT 1 FROM json_each(" + col.sql + ") e WHERE e.value IN (" + in + "))"
		}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		got, err := selectIDs(ctx, r.tx, `SELECT t."id" FROM `+ref.m.table+` t WHERE `+cond+` ORDER BY t."id"`, args...)
		if err != nil {
			return nil, fmt.Errorf("records: find references from %s.%s: %w", ref.m.c.Name, col.name, err)
		}
		out = append(out, got...)
		ids = ids[n:]
	}
	return out, nil
}

// group is the ids of one collection in a removal's set.
type group struct {
	m   *meta
	ids []string
}

// byCollection groups nodes by collection, in order of first appearance.
func byCollection(nodes []node) []group {
	var out []group
	at := map[string]int{}
	for _, n := range nodes {
		i, ok := at[n.m.c.Name]
		if !ok {
			i = len(out)
			at[n.m.c.Name] = i
			out = append(out, group{m: n.m})
		}
		out[i].ids = append(out[i].ids, n.id)
	}
	return out
}

// selectIDs runs a query selecting one text column and returns its values.
func selectIDs(ctx context.Context, q store.Querier, text string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
