package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// errInvalidCredentials is the one answer to every failed sign-in —
// unknown email, wrong password, disabled account, locked out — so an
// answer never tells whether an account exists.
var errInvalidCredentials = errs.E(errs.Invalid, "auth.invalid_credentials", "invalid email or password")

// errEmailNotVerified refuses a sign-in while the address is unverified,
// when Options.RequireVerifiedEmail says so.
var errEmailNotVerified = errs.E(errs.Forbidden, "auth.email_not_verified", "verify your email address before signing in")

// tooManyAttempts is the answer while a throttle blocks; Retry-After says
// how long. It is given for unknown and known emails alike.
func tooManyAttempts(retry time.Duration) error {
	return &retryError{errs.E(errs.TooManyRequests, "auth.too_many_attempts",
		"too many attempts; try again in %d seconds", int(retry.Seconds())+1), retry}
}

// spend counts one attempt on key, or refuses it while key is blocked, in
// one step (throttle.Attempt: concurrent requests get no more than the
// allowance): for requests each of which costs something (a hash, a mail,
// a stored state) however they turn out, and for guesses counted before
// they are checked.
func spend(ctx context.Context, th *throttle.Throttle, key string) error {
	retry, err := th.Attempt(ctx, key)
	if err != nil {
		return err
	}
	if retry > 0 {
		return tooManyAttempts(retry)
	}
	return nil
}

// retryError carries the Retry-After of a 429.
type retryError struct {
	err   *errs.Error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func retryAfterHeader(w http.ResponseWriter, err error) {
	var re *retryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", throttle.RetryAfter(re.after))
	}
}

// SignInWithPassword is the password grant: it checks the throttles, the
// password (or spends the same time when there is no such user), and
// starts a session — or, for a user with MFA, returns a challenge.
func (s *Service) SignInWithPassword(ctx context.Context, email, pw string) (TokenResponse, error) {
	release, err := s.admitSignIn(ctx)
	if err != nil {
		return TokenResponse{}, err
	}
	defer release()
	email = normalizeEmail(email)
	keys := []string{throttle.AccountKey(throttle.SignIn, email), throttle.IPKey(throttle.SignIn, clientFrom(ctx).IP)}
	// The throttles and the user in one read, the same for every email.
	probe := s.Throttle.Probe(keys...)
	u, err := userByEmailProbed(ctx, s.DB.SQL(), email, probe)
	if err != nil && !errors.Is(err, errUserNotFound) {
		return TokenResponse{}, err
	}
	retry, known := probe.Result()
	if retry > 0 {
		return TokenResponse{}, tooManyAttempts(retry)
	}
	if errors.Is(err, errUserNotFound) || u.passwordHash == "" {
		if err := s.Hasher.DummyVerify(ctx, pw); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, s.signInFailed(ctx, keys, "", "password", "unknown_email")
	}
	ok, rehash, err := s.Hasher.Verify(ctx, pw, u.passwordHash)
	if err != nil {
		return TokenResponse{}, err
	}
	if !ok || u.Disabled {
		reason := "wrong_password"
		if ok {
			reason = "disabled"
		}
		return TokenResponse{}, s.signInFailed(ctx, keys, u.ID, "password", reason)
	}
	if s.opts.RequireVerifiedEmail && !u.EmailVerified {
		return TokenResponse{}, errEmailNotVerified
	}
	if slices.Contains(known, keys[0]) { // the account's failures are forgiven
		if err := s.Throttle.Reset(ctx, keys[0]); err != nil {
			return TokenResponse{}, err
		}
	}
	if rehash {
		s.rehash(ctx, u.ID, u.passwordHash, pw)
	}
	if u.MFAEnabled {
		return s.mfaChallenge(ctx, u, []string{AMRPassword})
	}
	var resp TokenResponse
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		resp, err = s.startSession(ctx, tx, u, []string{AMRPassword}, AAL1)
		return err
	})
	return resp, err
}

// signInFailed records a failure against the throttles, the audit trail
// and the bus, in one transaction, and returns the uniform answer.
func (s *Service) signInFailed(ctx context.Context, keys []string, userID, method, reason string) error {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.Throttle.FailIn(ctx, tx, keys...); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, userID, "login.failed", userID, map[string]any{"method": method, "reason": reason}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventLoginFailed, userID,
			LoginFailedEvent{Sub: userID, Method: method, IP: clientFrom(ctx).IP, Reason: reason})
	})
	if err != nil {
		return err
	}
	return errInvalidCredentials
}

// rehash stores the password under the current hashing parameters, only
// if the stored hash is still old (a reset racing this sign-in must win);
// a failure only costs the upgrade, never the sign-in.
func (s *Service) rehash(ctx context.Context, userID, old, pw string) {
	hash, err := s.Hasher.Hash(ctx, pw)
	if err == nil {
		_, err = s.DB.SQL().ExecContext(ctx, `UPDATE auth_users SET password_hash = $1, updated_at = $2
			WHERE id = $3 AND password_hash = $4`, hash, s.now(), userID, old)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "password rehash failed", "user", userID, "err", err)
	}
}
