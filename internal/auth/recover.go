package auth

import (
	"context"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
)

// Recover starts a password reset: a mail with a reset link goes to email
// if an enabled account has it. The request itself only validates and
// counts throttles — the same work for every address — and the lookup and
// mail happen after the answer, so neither the answer nor its timing says
// whether the account exists.
func (s *Service) Recover(ctx context.Context, email string) error {
	return s.mailAccount(ctx, sendRecover, email, mail.ResetPassword,
		func(ctx context.Context, tx *store.Tx, u User) (mail.Data, bool, error) {
			token, err := s.issueLink(ctx, tx, codeRecovery, u.ID, u.Email)
			if err != nil {
				return mail.Data{}, false, err
			}
			d := mail.Data{To: u.Email, Link: s.link(codeRecovery, token), Expires: codeTTL[codeRecovery]}
			return d, true, s.audit(ctx, tx, u.ID, "password.recovery_requested", u.ID, nil)
		})
}

// resetPassword applies a recovery link: the new password (policy-checked)
// replaces the old one, the address counts as verified (the link reached
// it), every session of the user ends, and a new one starts — or, for a
// user with MFA, a challenge is returned. With signIn false (the built-in
// HTML form) no session starts.
func (s *Service) resetPassword(ctx context.Context, token, pw string, signIn bool) (TokenResponse, error) {
	if err := s.Policy.Validate(pw); err != nil {
		return TokenResponse{}, err
	}
	// Fail fast on a bad link before the costly hash.
	if _, err := s.peekLink(ctx, s.DB.SQL(), codeRecovery, token); err != nil {
		return TokenResponse{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return TokenResponse{}, err
	}
	var u User
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.useLink(ctx, tx, codeRecovery, token)
		if err != nil {
			return err
		}
		if u, err = s.codeUser(ctx, tx, c); err != nil {
			return err
		}
		now := s.now()
		if err := setPasswordHash(ctx, tx, u.ID, hash, now); err != nil {
			return err
		}
		if err := markEmailVerified(ctx, tx, u.ID, now); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ID, "password.reset", u.ID, nil); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
	if err != nil {
		return TokenResponse{}, err
	}
	// Whoever had the old password, or a session, is out.
	if err := s.revoke(ctx, u.ID, nil, "password_reset"); err != nil {
		return TokenResponse{}, err
	}
	// The reset proves control of the address: forget failed sign-ins.
	_ = s.Throttle.Reset(ctx, throttle.AccountKey("signin", u.Email), throttle.AccountKey(sendRecover, u.Email))
	if !signIn {
		return TokenResponse{User: &u}, nil
	}
	return s.signInByCode(ctx, u, []string{AMROTP})
}

// signInByCode starts a session for u after a code or link proved the
// address, or returns the MFA challenge for a user with a second factor.
func (s *Service) signInByCode(ctx context.Context, u User, amr []string) (TokenResponse, error) {
	if u.MFAEnabled {
		return s.mfaChallenge(ctx, u, amr)
	}
	var resp TokenResponse
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		resp, err = s.startSession(ctx, tx, u, amr, AAL1)
		return err
	})
	return resp, err
}
