package auth

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// SQL of the admin API: user search and the audit trail, both paged by
// keyset on their UUIDv7 ids (users oldest first, audit newest first).

// userFilter selects users: by a fragment of their email, after a cursor.
type userFilter struct {
	Search string // matched anywhere in the email, case-insensitively
	After  string // id of the last user of the previous page
	Limit  int
	Offset int // page mode
}

func (f userFilter) where() (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.Search != "" {
		args = append(args, "%"+escapeLike(strings.ToLower(f.Search))+"%")
		conds = append(conds, `email LIKE $`+strconv.Itoa(len(args))+` ESCAPE '\'`)
	}
	if f.After != "" {
		args = append(args, f.After)
		conds = append(conds, `id > $`+strconv.Itoa(len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func listUsers(ctx context.Context, q store.Querier, f userFilter) ([]User, error) {
	where, args := f.where()
	args = append(args, f.Limit, f.Offset)
	rows, err := q.QueryContext(ctx, `SELECT `+userColumns+` FROM auth_users`+where+` ORDER BY id LIMIT $`+
		strconv.Itoa(len(args)-1)+` OFFSET $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func countUsers(ctx context.Context, q store.Querier, f userFilter) (int, error) {
	f.After = ""
	where, args := f.where()
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_users`+where, args...).Scan(&n)
	return n, err
}

// AuditEntry is one row of the audit trail.
type AuditEntry struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"userAgent"`
	Data      json.RawMessage `json:"data"`
}

// auditFilter selects audit entries; empty fields match everything.
type auditFilter struct {
	Actor, Action, Target string
	Before                string // id of the last entry of the previous page
	Limit                 int
}

func listAudit(ctx context.Context, q store.Querier, f auditFilter) ([]AuditEntry, error) {
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ col, val string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.val != "" {
			args = append(args, c.val)
			conds = append(conds, c.col+` = $`+strconv.Itoa(len(args)))
		}
	}
	if f.Before != "" {
		args = append(args, f.Before)
		conds = append(conds, `id < $`+strconv.Itoa(len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, action, target, ip, user_agent, data FROM auth_audit`+
		where+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e    AuditEntry
			data string
		)
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.IP, &e.UserAgent, &data); err != nil {
			return nil, err
		}
		e.At, e.Data = e.At.UTC(), json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// hasAdmin reports whether any user holds the admin permission.
func hasAdmin(ctx context.Context, q store.Querier) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.permissions FROM auth_roles r
		JOIN auth_subject_roles s ON s.role = r.name JOIN auth_users u ON u.id = s.subject`)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return false, err
		}
		var perms []string
		if json.Unmarshal([]byte(raw), &perms) == nil && contains(perms, "admin") {
			return true, nil
		}
	}
	return false, rows.Err()
}

// deleteUserRows removes a user and everything keyed by their id that no
// foreign key removes with them.
func deleteUserRows(ctx context.Context, tx *store.Tx, id string) error {
	for _, q := range []string{
		`DELETE FROM auth_subject_roles WHERE subject = $1`,
		`DELETE FROM auth_api_keys WHERE owner_id = $1`,
		`DELETE FROM auth_codes WHERE user_id = $1`,
		`DELETE FROM auth_recovery_codes WHERE user_id = $1`,
		`DELETE FROM auth_mfa_factors WHERE user_id = $1`,
		`DELETE FROM auth_identities WHERE user_id = $1`,
		`DELETE FROM auth_refresh_tokens WHERE session_id IN (SELECT id FROM auth_sessions WHERE user_id = $1)`,
		`DELETE FROM auth_sessions WHERE user_id = $1`,
		`DELETE FROM auth_users WHERE id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}
