package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// SQL of the OAuth2 provider side and social sign-in: the clients apps
// register, authorization codes and sign-in states (both rows of
// auth_codes), and linked external identities.

// oauthAppKind is the auth_clients kind of apps using the authorization
// code flow (the other kind, "service", is a service account).
const oauthAppKind = "app"

// oauthClient is a registered OAuth client. A client without a secret is
// public (a browser or mobile app) and must use PKCE.
type oauthClient struct {
	ID           string
	Name         string
	Kind         string
	RedirectURIs []string
	Disabled     bool
	secretHash   string
}

func (c oauthClient) public() bool { return c.secretHash == "" }

// secretMatches compares a presented secret with the stored hash in
// constant time.
func (c oauthClient) secretMatches(secret string) bool {
	return c.secretHash != "" && secret != "" &&
		subtle.ConstantTimeCompare([]byte(hashToken(secret)), []byte(c.secretHash)) == 1
}

var errNoClient = errors.New("auth: unknown client")

func oauthClientByID(ctx context.Context, q store.Querier, id string) (oauthClient, error) {
	var (
		c        oauthClient
		secret   sql.NullString
		uris     string
		disabled sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT id, name, secret_hash, kind, redirect_uris, disabled_at
		FROM auth_clients WHERE id = $1`, id).Scan(&c.ID, &c.Name, &secret, &c.Kind, &uris, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthClient{}, errNoClient
	}
	if err != nil {
		return oauthClient{}, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return oauthClient{}, err
	}
	c.secretHash, c.Disabled = secret.String, disabled.Valid
	return c, nil
}

// Kinds of auth_codes rows this feature writes.
const (
	kindAuthorizationCode = "oauth_code" // an authorization code (authorize.go)
	kindOIDCState         = "oidc_state" // a social sign-in in progress (social.go)
)

// grantRow is an auth_codes row of this feature; Data is its JSON payload.
type grantRow struct {
	UserID    string
	Data      []byte
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func insertGrantRow(ctx context.Context, tx *store.Tx, hash, kind, userID string, data any, now, expires time.Time) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO auth_codes (hash, kind, user_id, email, data, attempts, created_at, expires_at)
		VALUES ($1, $2, $3, '', $4, 0, $5, $6)`, hash, kind, nullString(userID), string(raw), now, expires)
	return err
}

var errNoGrantRow = errors.New("auth: unknown code")

// grantRowByHash reads a row of kind; a row of another kind is not found.
func grantRowByHash(ctx context.Context, q store.Querier, hash, kind string) (grantRow, error) {
	var (
		g    grantRow
		user sql.NullString
		data string
		used sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT user_id, data, expires_at, used_at FROM auth_codes
		WHERE hash = $1 AND kind = $2`, hash, kind).Scan(&user, &data, &g.ExpiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return grantRow{}, errNoGrantRow
	}
	if err != nil {
		return grantRow{}, err
	}
	g.UserID, g.Data, g.ExpiresAt = user.String, []byte(data), g.ExpiresAt.UTC()
	if used.Valid {
		t := used.Time.UTC()
		g.UsedAt = &t
	}
	return g, nil
}

// spendGrantRow marks a row used unless it already is, and reports whether
// this call spent it: of two concurrent exchanges, exactly one wins.
func spendGrantRow(ctx context.Context, tx *store.Tx, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, now, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func setGrantRowData(ctx context.Context, tx *store.Tx, hash string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE auth_codes SET data = $1 WHERE hash = $2`, string(raw), hash)
	return err
}

// identityUser returns the user linked to provider's subject.
func identityUser(ctx context.Context, q store.Querier, provider, subject string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT user_id FROM auth_identities WHERE provider = $1 AND subject = $2`,
		provider, subject).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errUserNotFound
	}
	return id, err
}

func insertIdentity(ctx context.Context, tx *store.Tx, provider, subject, userID, email string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_identities (provider, subject, user_id, email, created_at)
		VALUES ($1, $2, $3, $4, $5)`, provider, subject, userID, email, now)
	return err
}

// clearPassword removes a password (an unverified account whose address a
// provider has just proved belongs to someone else: see social.go).
func clearPassword(ctx context.Context, tx *store.Tx, userID string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE auth_users SET password_hash = NULL, updated_at = $1 WHERE id = $2`, now, userID)
	return err
}
