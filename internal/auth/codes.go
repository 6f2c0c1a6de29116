package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Kinds of single-use codes in auth_codes that this file issues. Each code
// works for its kind only; issuing a code deletes the user's earlier unused
// codes of the same kind, so only the newest mail works.
const (
	codeSignup      = "signup"       // email verification link
	codeRecovery    = "recovery"     // password reset link
	codeMagicLink   = "magiclink"    // sign-in link
	codeOTP         = "otp"          // 6-digit sign-in code, sent with the magic link
	codeEmailChange = "email_change" // confirms a new address
)

// codeTTL is how long each kind stays valid.
var codeTTL = map[string]time.Duration{
	codeSignup:      24 * time.Hour,
	codeRecovery:    time.Hour,
	codeMagicLink:   10 * time.Minute,
	codeOTP:         10 * time.Minute,
	codeEmailChange: time.Hour,
}

// maxCodeAttempts is how many wrong 6-digit codes burn the code.
const maxCodeAttempts = 5

// errCodeInvalid is the one answer for a code or link that is unknown,
// used, expired, burned or of another kind: telling them apart would help
// only someone guessing.
var errCodeInvalid = errs.E(errs.Invalid, "auth.code_invalid", "the code or link is invalid or has expired")

// code is a stored single-use code (only its hash is kept).
type code struct {
	hash      string
	kind      string
	userID    string
	email     string // the address the code was sent to
	attempts  int
	expiresAt time.Time
	usedAt    *time.Time
}

// live reports whether c can still be used at now.
func (c code) live(now time.Time) bool {
	return c.usedAt == nil && now.Before(c.expiresAt) && c.attempts < maxCodeAttempts
}

const codeColumns = `hash, kind, user_id, email, attempts, expires_at, used_at`

func scanCode(row interface{ Scan(...any) error }) (code, error) {
	var (
		c    code
		user sql.NullString
		used sql.NullTime
	)
	err := row.Scan(&c.hash, &c.kind, &user, &c.email, &c.attempts, &c.expiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return code{}, errCodeInvalid
	}
	if err != nil {
		return code{}, err
	}
	c.userID, c.expiresAt = user.String, c.expiresAt.UTC()
	if used.Valid {
		t := used.Time.UTC()
		c.usedAt = &t
	}
	return c, nil
}

// newLinkToken returns a random link token: 256 bits, base64url.
func newLinkToken() string { return randomToken("") }

// newOTP returns a uniformly random 6-digit code.
func newOTP() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// otpHash is how a 6-digit code is stored: an HMAC under the server secret,
// bound to the user, so a copy of the table cannot be brute-forced through
// the million possible codes, and equal codes of two users do not collide.
func (s *Service) otpHash(userID, otp string) string {
	mac := hmac.New(sha256.New, s.opts.Secret)
	mac.Write([]byte("bam auth otp\x00" + userID + "\x00" + otp))
	return hex.EncodeToString(mac.Sum(nil))
}

// issueCode stores a code of kind for user, sent to email, whose hash is
// hash, after deleting the user's earlier codes of that kind.
func (s *Service) issueCode(ctx context.Context, tx *store.Tx, kind, userID, email, hash string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_codes WHERE user_id = $1 AND kind = $2`, userID, kind); err != nil {
		return err
	}
	now := s.now()
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_codes (hash, kind, user_id, email, data, attempts, created_at, expires_at)
		VALUES ($1, $2, $3, $4, '{}', 0, $5, $6)`, hash, kind, userID, email, now, now.Add(codeTTL[kind]))
	return err
}

// issueLink issues a link code of kind and returns the token to mail.
func (s *Service) issueLink(ctx context.Context, tx *store.Tx, kind, userID, email string) (string, error) {
	token := newLinkToken()
	return token, s.issueCode(ctx, tx, kind, userID, email, hashToken(token))
}

// issueOTP issues a 6-digit sign-in code and returns it.
func (s *Service) issueOTP(ctx context.Context, tx *store.Tx, userID, email string) (string, error) {
	otp := newOTP()
	return otp, s.issueCode(ctx, tx, codeOTP, userID, email, s.otpHash(userID, otp))
}

// peekLink returns the live code of kind behind a link token, changing
// nothing: to fail fast before expensive work.
func (s *Service) peekLink(ctx context.Context, q store.Querier, kind, token string) (code, error) {
	if token == "" {
		return code{}, errCodeInvalid
	}
	c, err := scanCode(q.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1`, hashToken(token)))
	if err != nil {
		return code{}, err
	}
	if c.kind != kind || !c.live(s.now()) || c.userID == "" {
		return code{}, errCodeInvalid
	}
	return c, nil
}

// useLink spends the code behind a link token. The lookup is by the
// token's hash, so no secret is compared in variable time; the update only
// succeeds for the first of two concurrent uses.
func (s *Service) useLink(ctx context.Context, tx *store.Tx, kind, token string) (code, error) {
	c, err := s.peekLink(ctx, tx, kind, token)
	if err != nil {
		return code{}, err
	}
	if err := s.spendCode(ctx, tx, c.hash); err != nil {
		return code{}, err
	}
	return c, nil
}

// spendCode marks a code used; a code already used is errCodeInvalid.
func (s *Service) spendCode(ctx context.Context, tx *store.Tx, hash string) error {
	res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, s.now(), hash)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errCodeInvalid
	}
	return nil
}

// checkOTP compares otp with userID's live 6-digit code. Each comparison
// first claims an attempt on the code with one conditional UPDATE, in tx:
// concurrent guesses serialize on the row (PostgreSQL row lock, SQLite's
// write transaction), so no more than maxCodeAttempts guesses are ever
// compared, however many arrive at once. A wrong code returns ok=false (the
// caller commits the counted attempt and answers errCodeInvalid), burning
// the code at maxCodeAttempts. A right one is spent in tx.
func (s *Service) checkOTP(ctx context.Context, tx *store.Tx, userID, otp string) (c code, ok bool, err error) {
	c, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes
		WHERE user_id = $1 AND kind = $2 AND used_at IS NULL ORDER BY created_at DESC LIMIT 1`, userID, codeOTP))
	if errors.Is(err, errCodeInvalid) || (err == nil && !c.live(s.now())) {
		return code{}, false, nil
	}
	if err != nil {
		return code{}, false, err
	}
	if claimed, err := s.claimCodeAttempt(ctx, tx, c.hash); err != nil || !claimed {
		return code{}, false, err
	}
	want := s.otpHash(userID, otp)
	if len(otp) != 6 || subtle.ConstantTimeCompare([]byte(want), []byte(c.hash)) != 1 {
		// The attempt is counted; the one that reaches the limit burns it.
		_, err := tx.ExecContext(ctx, `UPDATE auth_codes SET used_at = $1
			WHERE hash = $2 AND attempts >= $3 AND used_at IS NULL`, s.now(), c.hash, maxCodeAttempts)
		return code{}, false, err
	}
	if err := s.spendCode(ctx, tx, c.hash); err != nil {
		return code{}, false, nil
	}
	return c, true, nil
}

// claimCodeAttempt counts one attempt on the code behind hash if it is
// still unused and under maxCodeAttempts (the caller checked expiry) and
// reports whether it did. It is a single statement, so two concurrent
// claims can't both take the last attempt.
func (s *Service) claimCodeAttempt(ctx context.Context, tx *store.Tx, hash string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE auth_codes SET attempts = attempts + 1
		WHERE hash = $1 AND attempts < $2 AND used_at IS NULL`, hash, maxCodeAttempts)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// dropCodes deletes userID's codes of the given kinds: using a magic link
// voids the code sent with it, and the other way round.
func dropCodes(ctx context.Context, tx *store.Tx, userID string, kinds ...string) error {
	for _, k := range kinds {
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_codes WHERE user_id = $1 AND kind = $2 AND used_at IS NULL`,
			userID, k); err != nil {
			return err
		}
	}
	return nil
}

// pruneCodes deletes codes that expired more than a day ago (kept a while
// so a late click still meets "expired", not "unknown" — both answer the
// same, but the audit can tell).
func pruneCodes(ctx context.Context, q store.Querier, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM auth_codes WHERE expires_at < $1`, now.Add(-24*time.Hour))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
