package auth

import (
	"context"
	"errors"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
)

// SendOTP starts a passwordless sign-in: one mail with a 6-digit code and a
// magic link, both valid for 10 minutes, either of which signs in once. An
// unknown or disabled address gets no mail — there is no sign-up by code —
// and the same answer as any other, computed before the lookup.
func (s *Service) SendOTP(ctx context.Context, email string) error {
	return s.mailAccount(ctx, sendOTP, email, mail.MagicLink,
		func(ctx context.Context, tx *store.Tx, u User) (mail.Data, bool, error) {
			token, err := s.issueLink(ctx, tx, codeMagicLink, u.ID, u.Email)
			if err != nil {
				return mail.Data{}, false, err
			}
			otp, err := s.issueOTP(ctx, tx, u.ID, u.Email)
			return mail.Data{To: u.Email, Link: s.link(codeMagicLink, token), Code: otp, Expires: codeTTL[codeOTP]}, true, err
		})
}

// signInWithLink applies a magic link.
func (s *Service) signInWithLink(ctx context.Context, token string) (TokenResponse, error) {
	var u User
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.useLink(ctx, tx, codeMagicLink, token)
		if err != nil {
			return err
		}
		if u, err = s.codeUser(ctx, tx, c); err != nil {
			return err
		}
		u, err = s.codeSignedIn(ctx, tx, u, "magiclink")
		return err
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return s.signInByCode(ctx, u, []string{AMROTP})
}

// signInWithOTP checks a 6-digit code for email. Besides the code's own
// attempt limit, wrong codes count per address and per IP, so an attacker
// cannot try a code on many accounts either.
func (s *Service) signInWithOTP(ctx context.Context, email, otp string) (TokenResponse, error) {
	email = normalizeEmail(email)
	keys := []string{throttle.AccountKey(throttle.OTP, email), throttle.IPKey(throttle.OTP, clientFrom(ctx).IP)}
	if retry, err := s.Throttle.Check(ctx, keys...); err != nil {
		return TokenResponse{}, err
	} else if retry > 0 {
		return TokenResponse{}, tooManyAttempts(retry)
	}
	u, err := userByEmail(ctx, s.DB.SQL(), email)
	if err := ignoreNotFound(err); err != nil {
		return TokenResponse{}, err
	}
	// An unknown or disabled address goes through the same steps with no
	// user, which has no code: the same answer at about the same cost.
	owner := u.ID
	if u.Disabled {
		owner = ""
	}
	wrong := false
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, ok, err := s.checkOTP(ctx, tx, owner, otp)
		if err != nil {
			return err
		}
		if wrong = !ok; wrong {
			return nil // commit the counted attempt, then answer
		}
		if u, err = s.codeUser(ctx, tx, c); err != nil {
			return err
		}
		u, err = s.codeSignedIn(ctx, tx, u, "otp")
		return err
	})
	if err == nil && wrong {
		err = s.codeFailed(ctx, keys...)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	_ = s.Throttle.Reset(ctx, keys[0])
	return s.signInByCode(ctx, u, []string{AMROTP})
}

// codeSignedIn records in tx that a sign-in code or link was used: the
// other one from the same mail is voided, the address counts as verified,
// and a user whose verification changed is announced.
func (s *Service) codeSignedIn(ctx context.Context, tx *store.Tx, u User, method string) (User, error) {
	if err := dropCodes(ctx, tx, u.ID, codeMagicLink, codeOTP); err != nil {
		return User{}, err
	}
	if err := s.audit(ctx, tx, u.ID, "otp.used", u.ID, map[string]any{"method": method}); err != nil {
		return User{}, err
	}
	if u.EmailVerified {
		return u, nil
	}
	return s.claimAccount(ctx, tx, u, method, s.now())
}

// codeFailed counts a wrong code or link against keys and returns the
// uniform answer.
func (s *Service) codeFailed(ctx context.Context, keys ...string) error {
	if err := s.Throttle.Fail(ctx, keys...); err != nil {
		return err
	}
	return errCodeInvalid
}

// isCodeInvalid reports whether err is the uniform bad-code answer.
func isCodeInvalid(err error) bool { return errors.Is(err, errCodeInvalid) }
