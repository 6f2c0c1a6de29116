package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// SQL of a batch of refreshes (refresh_together.go): each statement covers
// every token of the batch, so a batch costs four statements however many
// tokens it holds. Its lists are padded (store_lists.go).

// refreshRow is what refreshing one token needs: the token, its session,
// the session's user and the user's roles and permissions.
type refreshRow struct {
	rt           refreshToken
	sess         Session
	user         User
	roles, perms []string
}

// refreshRowsQuery reads the rows of a batch's tokens in one query; a user
// with several roles gives one row per role.
var refreshRowsQuery = sizedQuery(func(n int) string {
	return `SELECT t.hash, t.session_id, t.used_at, t.expires_at, ` + qualify("s", sessionColumns) + `, ` +
		qualify("auth_users", userFields) + `, ` + userHasMFA + `, r.name, r.permissions
		FROM auth_refresh_tokens t
		JOIN auth_sessions s ON s.id = t.session_id
		JOIN auth_users ON auth_users.id = s.user_id
		LEFT JOIN auth_subject_roles sr ON sr.subject = auth_users.id
		LEFT JOIN auth_roles r ON r.name = sr.role
		WHERE t.hash IN (` + placeholders(1, n, 1) + `) ORDER BY t.hash, r.name`
})

// refreshRows returns the rows of the tokens with the given hashes, by
// hash; unknown tokens are missing.
func refreshRows(ctx context.Context, tx *store.Tx, hashes []string) (map[string]*refreshRow, error) {
	args := padded(hashes, nil)
	rows, err := tx.QueryContext(ctx, refreshRowsQuery(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*refreshRow, len(hashes))
	seen := map[string]bool{}
	for rows.Next() {
		var (
			rt         refreshToken
			used       sql.NullTime
			ss         sessionScan
			us         userScan
			role, perm sql.NullString
		)
		dests := append([]any{&rt.hash, &rt.sessionID, &used, &rt.expiresAt}, ss.dests()...)
		dests = append(dests, us.dests()...)
		if err := rows.Scan(append(dests, &role, &perm)...); err != nil {
			return nil, err
		}
		row := out[rt.hash]
		if row == nil {
			if used.Valid {
				t := used.Time.UTC()
				rt.usedAt = &t
			}
			rt.expiresAt = rt.expiresAt.UTC()
			row = &refreshRow{rt: rt, user: us.finish()}
			if row.sess, err = ss.finish(); err != nil {
				return nil, err
			}
			out[rt.hash] = row
			clear(seen)
		}
		if !role.Valid {
			continue
		}
		row.roles = append(row.roles, role.String)
		var ps []string
		if err := json.Unmarshal([]byte(perm.String), &ps); err != nil {
			return nil, err
		}
		for _, p := range ps { // as rolesOf: the union, in the order first seen, sorted below
			if !seen[p] {
				seen[p] = true
				row.perms = append(row.perms, p)
			}
		}
	}
	for _, row := range out {
		row.perms = sortedCopy(row.perms)
	}
	return out, rows.Err()
}

var markRefreshTokensUsedQuery = sizedQuery(func(n int) string {
	return `UPDATE auth_refresh_tokens SET used_at = $1 WHERE used_at IS NULL AND hash IN (` +
		placeholders(2, n, 1) + `) RETURNING hash`
})

// markRefreshTokensUsed sets used_at of the tokens with the given hashes
// that have none yet, and returns the hashes it set: the tokens this batch
// is the first to use.
func markRefreshTokensUsed(ctx context.Context, tx *store.Tx, hashes []string, now time.Time) (map[string]bool, error) {
	args := padded(hashes, now)
	rows, err := tx.QueryContext(ctx, markRefreshTokensUsedQuery(len(args)-1), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	first := make(map[string]bool, len(hashes))
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		first[h] = true
	}
	return first, rows.Err()
}

var insertRefreshTokensQuery = sizedQuery(func(n int) string {
	return `INSERT INTO auth_refresh_tokens (hash, session_id, created_at, expires_at) VALUES ` +
		placeholders(1, n, 4) + ` ON CONFLICT (hash) DO NOTHING`
})

// newRefreshToken is a successor to store.
type newRefreshToken struct {
	hash, sessionID string
	expires         time.Time
}

// insertRefreshTokens stores successors created at now; one already
// stored is not an error (as insertRefreshToken).
func insertRefreshTokens(ctx context.Context, tx *store.Tx, toks []newRefreshToken, now time.Time) error {
	n := padSize(len(toks))
	args := make([]any, 0, 4*n)
	for i := range n {
		t := toks[min(i, len(toks)-1)]
		args = append(args, t.hash, t.sessionID, now, t.expires)
	}
	_, err := tx.ExecContext(ctx, insertRefreshTokensQuery(n), args...)
	return err
}

var touchSessionsQuery = sizedQuery(func(n int) string {
	return `UPDATE auth_sessions SET refreshed_at = $1 WHERE id IN (` + placeholders(2, n, 1) + `)`
})

// touchSessions sets refreshed_at of the sessions with the given ids.
func touchSessions(ctx context.Context, tx *store.Tx, ids []string, now time.Time) error {
	args := padded(ids, now)
	_, err := tx.ExecContext(ctx, touchSessionsQuery(len(args)-1), args...)
	return err
}
