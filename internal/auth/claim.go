package auth

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// Claiming an account. Anyone can sign up with an address they do not
// own; the account stays unverified until someone shows they read that
// address's mail. When its owner does so by signing in — a code or link
// mailed there, or a provider vouching for the address — the account is
// theirs, and whatever the person who registered it set up goes with the
// password: a way back in left to them (an email change they asked for,
// an API key, an MFA factor that would lock the owner out, an identity
// linked from a provider that did not vouch for the address) would undo
// the claim.

// claimAccount hands u, whose address was never verified, to the person
// who just showed they own it (how: "magiclink", "otp", or the provider's
// name): its password, sessions, pending codes, API keys, MFA factors,
// recovery codes and linked identities go, and its address counts as
// verified. It returns u as it now is, announced as updated.
func (s *Service) claimAccount(ctx context.Context, tx *store.Tx, u User, how string, now time.Time) (User, error) {
	if err := clearPassword(ctx, tx, u.ID, now); err != nil {
		return User{}, err
	}
	if err := s.revokeAllSessions(ctx, tx, u.ID, "unverified_account_claimed", now); err != nil {
		return User{}, err
	}
	keys, err := apiKeysOf(ctx, tx, u.ID)
	if err != nil {
		return User{}, err
	}
	for _, k := range keys {
		if err := s.emit(ctx, tx, EventAPIKeyRevoked, k.ID, APIKeyRevokedEvent{KeyID: k.ID, Owner: u.ID}); err != nil {
			return User{}, err
		}
	}
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM auth_codes WHERE user_id = $1 AND used_at IS NULL`, []any{u.ID}},
		{`UPDATE auth_api_keys SET revoked_at = $1 WHERE owner_id = $2 AND revoked_at IS NULL`, []any{now, u.ID}},
		{`DELETE FROM auth_recovery_codes WHERE user_id = $1`, []any{u.ID}},
		{`DELETE FROM auth_mfa_factors WHERE user_id = $1`, []any{u.ID}},
		{`DELETE FROM auth_identities WHERE user_id = $1`, []any{u.ID}},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return User{}, err
		}
	}
	if err := markEmailVerified(ctx, tx, u.ID, now); err != nil {
		return User{}, err
	}
	if err := s.audit(ctx, tx, u.ID, "account.claimed", u.ID, map[string]any{"method": how}); err != nil {
		return User{}, err
	}
	if u, err = s.loadUser(ctx, tx, u.ID); err != nil {
		return User{}, err
	}
	return u, s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
}
