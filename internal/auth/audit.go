package auth

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/store"
)

// audit records a security-relevant action in the same transaction as the
// action itself: who (actor), what (action, target), when, and from where.
func (s *Service) audit(ctx context.Context, tx *store.Tx, actor, action, target string, data map[string]any) error {
	c := clientFrom(ctx)
	raw, err := json.Marshal(data)
	if err != nil || data == nil {
		raw = []byte("{}")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO auth_audit (id, at, actor, action, target, ip, user_agent, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, newID(), s.now(), actor, action, target, c.IP, c.UserAgent, string(raw))
	return err
}
