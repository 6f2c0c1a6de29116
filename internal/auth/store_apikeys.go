package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// SQL of API keys (auth_api_keys): only their SHA-256 is stored.

// apiKeyRow is a stored key.
type apiKeyRow struct {
	APIKey
	ownerID string
	revoked bool
}

var errAPIKeyNotFound = errs.E(errs.NotFound, "auth.api_key_not_found", "no such API key")

const apiKeyColumns = `id, prefix, name, owner_id, permissions, created_at, last_used_at, expires_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (apiKeyRow, error) {
	var (
		k                      apiKeyRow
		perms                  string
		used, expires, revoked sql.NullTime
	)
	err := row.Scan(&k.ID, &k.Prefix, &k.Name, &k.ownerID, &perms, &k.CreatedAt, &used, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return apiKeyRow{}, errAPIKeyNotFound
	}
	if err != nil {
		return apiKeyRow{}, err
	}
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return apiKeyRow{}, err
	}
	k.Permissions = nonNil(k.Permissions)
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt, k.ExpiresAt = timePtr(used), timePtr(expires)
	k.revoked = revoked.Valid
	return k, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func insertAPIKey(ctx context.Context, tx *store.Tx, k apiKeyRow, hash string) error {
	perms, _ := json.Marshal(nonNil(k.Permissions))
	var expires sql.NullTime
	if k.ExpiresAt != nil {
		expires = sql.NullTime{Time: *k.ExpiresAt, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_api_keys
		(id, hash, prefix, name, owner_id, permissions, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, hash, k.Prefix, k.Name, k.ownerID, string(perms), k.CreatedAt, expires)
	return err
}

func apiKeyByHash(ctx context.Context, q store.Querier, hash string) (apiKeyRow, error) {
	return scanAPIKey(q.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM auth_api_keys WHERE hash = $1`, hash))
}

// apiKeysOf lists an owner's keys that are not revoked, newest first.
func apiKeysOf(ctx context.Context, q store.Querier, owner string) ([]APIKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM auth_api_keys
		WHERE owner_id = $1 AND revoked_at IS NULL ORDER BY id DESC`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k.APIKey)
	}
	return out, rows.Err()
}

// revokeAPIKey revokes an owner's key; another owner's key is not found.
func revokeAPIKey(ctx context.Context, tx *store.Tx, owner, id string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE auth_api_keys SET revoked_at = $1
		WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL`, now, id, owner)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = errAPIKeyNotFound
	}
	return err
}

func touchAPIKey(ctx context.Context, q store.Querier, id string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE auth_api_keys SET last_used_at = $1 WHERE id = $2`, now, id)
	return err
}
