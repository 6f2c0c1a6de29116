package auth

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/store"
)

// audit records a security-relevant action in the same transaction as the
// action itself: who (actor), what (action, target), when, and from where.
func (s *Service) audit(ctx context.Context, tx *store.Tx, actor, action, target string, data map[string]any) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_audit (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.auditValues(ctx, actor, action, target, data)...)
	return err
}

const auditColumns = `id, at, actor, action, target, ip, user_agent, data`

// auditValues are the values of auditColumns for a record of audit's, for
// a statement that stores it with other rows (insertNewSession).
func (s *Service) auditValues(ctx context.Context, actor, action, target string, data map[string]any) []any {
	c := clientFrom(ctx)
	raw, err := json.Marshal(data)
	if err != nil || data == nil {
		raw = []byte("{}")
	}
	return []any{newID(), s.now(), actor, action, target, c.IP, c.UserAgent, string(raw)}
}
