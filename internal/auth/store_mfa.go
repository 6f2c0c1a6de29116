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

// SQL of MFA: factors (auth_mfa_factors, secrets sealed), recovery codes
// (auth_recovery_codes, HMACs) and pending challenges (auth_codes rows of
// kind mfa_challenge).

// mfaFactor is a stored factor; secret is sealed.
type mfaFactor struct {
	MFAFactor
	userID   string
	secret   string
	lastStep int64
}

var errFactorNotFound = errs.E(errs.NotFound, "auth.mfa_factor_not_found", "no such MFA factor")

const factorColumns = `id, user_id, kind, secret, verified_at, last_step, created_at`

func scanFactor(row interface{ Scan(...any) error }) (mfaFactor, error) {
	var (
		f        mfaFactor
		verified sql.NullTime
	)
	err := row.Scan(&f.ID, &f.userID, &f.Type, &f.secret, &verified, &f.lastStep, &f.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return mfaFactor{}, errFactorNotFound
	}
	f.Verified, f.CreatedAt = verified.Valid, f.CreatedAt.UTC()
	return f, err
}

func insertFactor(ctx context.Context, tx *store.Tx, f mfaFactor) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_mfa_factors (id, user_id, kind, secret, last_step, created_at)
		VALUES ($1, $2, $3, $4, 0, $5)`, f.ID, f.userID, f.Type, f.secret, f.CreatedAt)
	return err
}

func factorByID(ctx context.Context, q store.Querier, userID, id string) (mfaFactor, error) {
	return scanFactor(q.QueryRowContext(ctx, `SELECT `+factorColumns+` FROM auth_mfa_factors
		WHERE id = $1 AND user_id = $2`, id, userID))
}

// factorsOf lists a user's factors, verified ones only when verified is set.
func factorsOf(ctx context.Context, q store.Querier, userID string, verified bool) ([]mfaFactor, error) {
	query := `SELECT ` + factorColumns + ` FROM auth_mfa_factors WHERE user_id = $1`
	if verified {
		query += ` AND verified_at IS NOT NULL`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfaFactor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// acceptStep records that the TOTP step was used on factor id, and sets
// verified_at on the first use. It reports false when a step as late was
// already accepted (a replay, or a concurrent use of the same code).
func acceptStep(ctx context.Context, tx *store.Tx, id string, step int64, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_mfa_factors SET last_step = $1,
		verified_at = COALESCE(verified_at, $2) WHERE id = $3 AND last_step < $1`, step, now, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func deleteFactors(ctx context.Context, tx *store.Tx, userID string, onlyUnverified bool, id string) error {
	query := `DELETE FROM auth_mfa_factors WHERE user_id = $1`
	args := []any{userID}
	if onlyUnverified {
		query += ` AND verified_at IS NULL`
	}
	if id != "" {
		query += ` AND id = $2`
		args = append(args, id)
	}
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// replaceRecoveryCodes stores hashes as the user's only recovery codes.
func replaceRecoveryCodes(ctx context.Context, tx *store.Tx, userID string, hashes []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_recovery_codes (user_id, hash) VALUES ($1, $2)`,
			userID, h); err != nil {
			return err
		}
	}
	return nil
}

// spendRecoveryCode marks an unused code used and reports whether it was.
func spendRecoveryCode(ctx context.Context, tx *store.Tx, userID, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_recovery_codes SET used_at = $1
		WHERE user_id = $2 AND hash = $3 AND used_at IS NULL`, now, userID, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func unusedRecoveryCodes(ctx context.Context, q store.Querier, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
		userID).Scan(&n)
	return n, err
}

// kindMFAChallenge is the auth_codes kind of a pending second-factor step.
const kindMFAChallenge = "mfa_challenge"

// mfaPending is a challenge: who passed the first factor, and how.
type mfaPending struct {
	hash      string
	userID    string
	amr       []string
	attempts  int
	expiresAt time.Time
	used      bool
}

func insertChallenge(ctx context.Context, tx *store.Tx, hash, userID string, amr []string, now, expires time.Time) error {
	data, err := json.Marshal(map[string]any{"amr": amr})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO auth_codes (hash, kind, user_id, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hash, kindMFAChallenge, userID, string(data), now, expires)
	return err
}

var errNoChallenge = errors.New("auth: no such mfa challenge")

func challengeByHash(ctx context.Context, q store.Querier, hash string) (mfaPending, error) {
	var (
		c    mfaPending
		data string
		user sql.NullString
		used sql.NullTime
	)
	err := q.QueryRowContext(ctx, `SELECT hash, user_id, data, attempts, expires_at, used_at FROM auth_codes
		WHERE hash = $1 AND kind = $2`, hash, kindMFAChallenge).Scan(&c.hash, &user, &data, &c.attempts, &c.expiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return mfaPending{}, errNoChallenge
	}
	if err != nil {
		return mfaPending{}, err
	}
	var d struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return mfaPending{}, err
	}
	c.userID, c.amr, c.used = user.String, d.AMR, used.Valid
	return c, nil
}

// spendChallenge marks a challenge used and reports whether this call did.
func spendChallenge(ctx context.Context, tx *store.Tx, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, now, hash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
