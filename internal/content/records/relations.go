package records

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// checkRelations checks that every relation id in input (already validated
// by Encode) names an existing record of the field's target collection.
// Every missing id is one field error of the content.validation_failed
// error it returns.
func (s *Store) checkRelations(ctx context.Context, q store.Querier, m *meta, input map[string]any) error {
	var fields []errs.FieldError
	for _, ci := range m.relations {
		f := m.cols[ci].field
		ids := relationIDs(input[f.Name])
		if len(ids) == 0 {
			continue
		}
		if _, ok := s.reg.Get(f.Collection); !ok && f.Collection != m.c.Name {
			fields = append(fields, errs.FieldError{Field: f.Name, Code: "not_found",
				Message: fmt.Sprintf("collection %s does not exist", f.Collection)})
			continue
		}
		found, err := existing(ctx, q, f.Collection, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := found[id]; !ok {
				fields = append(fields, errs.FieldError{Field: f.Name, Code: "not_found",
					Message: fmt.Sprintf("no record %q in %s", id, f.Collection)})
			}
		}
	}
	if len(fields) > 0 {
		return invalid(fields...)
	}
	return nil
}

// relationIDs returns the ids of a relation value as input gives it: a
// string (single) or a list of strings (multi).
func relationIDs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return unique(x)
	case []any:
		ids := make([]string, 0, len(x))
		for _, e := range x {
			if id, ok := e.(string); ok {
				ids = append(ids, id)
			}
		}
		return unique(ids)
	}
	return nil
}

// existing returns which of ids are records of collection.
func existing(ctx context.Context, q store.Querier, collection string, ids []string) (map[string]struct{}, error) {
	found := make(map[string]struct{}, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), getMax)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT "id" FROM `+quote(schema.Table(collection))+
			` WHERE "id" IN (`+placeholders(1, n)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("records: check relations to %s: %w", collection, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("records: check relations to %s: %w", collection, err)
			}
			found[id] = struct{}{}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return found, nil
}
