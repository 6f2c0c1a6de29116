package records

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// checkRelations checks that every relation id in input (already validated
// by Encode) names an existing record of the field's target collection
// that access's caller may view (Access.Views): one it may not view is
// reported as missing, so that a write cannot probe for ids. Every missing
// id is one field error of the content.validation_failed error it returns.
func (s *Store) checkRelations(ctx context.Context, q store.Querier, m *meta, input map[string]any, access *Access) error {
	var fields []errs.FieldError
	for _, ci := range m.relations {
		f := m.cols[ci].field
		ids := relationIDs(input[f.Name])
		if len(ids) == 0 {
			continue
		}
		target, ok := s.reg.Get(f.Collection)
		if f.Collection == m.c.Name {
			target, ok = m.c, true
		}
		if !ok {
			fields = append(fields, errs.FieldError{Field: f.Name, Code: "not_found",
				Message: fmt.Sprintf("collection %s does not exist", f.Collection)})
			continue
		}
		found := map[string]struct{}{}
		if view, visible := access.view(f.Collection); visible {
			var err error
			if found, err = s.existing(ctx, q, target, ids, view); err != nil {
				return err
			}
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
		if x == "" {
			return nil // "" clears a relation, as null does (Encode)
		}
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

// existing returns which of ids are records of c that access admits.
func (s *Store) existing(ctx context.Context, q store.Querier, c *schema.Collection, ids []string, access *Access) (map[string]struct{}, error) {
	found := make(map[string]struct{}, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), getMax)
		rule, ruleArgs, err := s.rule(c, access, n+1)
		if err != nil {
			return nil, err
		}
		args := make([]any, n, n+len(ruleArgs))
		for i, id := range ids[:n] {
			args[i] = id
		}
		text := `SELECT t."id" FROM ` + quote(schema.Table(c.Name)) + ` t WHERE t."id" IN (` + placeholders(1, n) + `)`
		if rule != "" {
			text += " AND (" + rule + ")"
		}
		got, err := selectIDs(ctx, q, text, append(args, ruleArgs...)...)
		if err != nil {
			return nil, fmt.Errorf("records: check relations to %s: %w", c.Name, err)
		}
		for _, id := range got {
			found[id] = struct{}{}
		}
		ids = ids[n:]
	}
	return found, nil
}
