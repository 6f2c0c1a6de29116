package auth

import (
	"context"
	"encoding/json"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// CurrentUser returns the caller's account (an OAuth app reads what its
// scope grants from userinfo instead).
func (s *Service) CurrentUser(ctx context.Context, p *authn.Principal) (User, error) {
	if p.Kind != authn.KindUser {
		return User{}, errs.E(errs.Forbidden, "auth.not_a_user", "this token does not belong to a user")
	}
	if err := firstParty(p); err != nil {
		return User{}, err
	}
	return s.loadUser(ctx, s.DB.SQL(), p.Subject)
}

func (s *Service) loadUser(ctx context.Context, q store.Querier, id string) (User, error) {
	u, err := userByID(ctx, q, id)
	if err != nil {
		return User{}, err
	}
	roles, _, err := rolesOf(ctx, q, id)
	u.Roles = nonNil(roles)
	return u, err
}

// UpdateUserRequest is the body of PATCH /v1/auth/user; absent fields are
// left alone.
type UpdateUserRequest struct {
	Data            json.RawMessage `json:"data,omitempty"`
	Password        string          `json:"password,omitempty"`
	CurrentPassword string          `json:"currentPassword,omitempty"` // required to change the password or the email (reauthenticate)
	Email           string          `json:"email,omitempty"`           // applied once the link mailed to it is opened (email_change.go)
}

// UpdateUser changes the caller's metadata and, once they have shown
// they are the account's holder (reauthenticate), their password or email;
// a new password signs out every other session.
func (s *Service) UpdateUser(ctx context.Context, p *authn.Principal, req UpdateUserRequest) (User, error) {
	if err := firstParty(p); err != nil {
		return User{}, err
	}
	u, err := s.CurrentUser(ctx, p)
	if err != nil {
		return User{}, err
	}
	if err := checkUserData(req.Data); err != nil {
		return User{}, err
	}
	var newHash string
	if req.Password != "" {
		if err := s.Policy.Validate(req.Password); err != nil {
			return User{}, err
		}
	}
	if req.Password != "" || req.Email != "" {
		// A first password is set through recovery (a link mailed to the
		// address), not with a token: a recent one could be a thief's.
		if err := s.reauthenticate(ctx, p, u, req.CurrentPassword, req.Password == ""); err != nil {
			return User{}, err
		}
	}
	if req.Password != "" {
		if newHash, err = s.Hasher.Hash(ctx, req.Password); err != nil {
			return User{}, err
		}
	}
	if req.Email != "" {
		if err := s.requestEmailChange(ctx, u, req.Email); err != nil {
			return User{}, err
		}
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if len(req.Data) > 0 {
			if err := setUserData(ctx, tx, u.ID, orEmptyObject(req.Data), now); err != nil {
				return err
			}
		}
		if newHash != "" {
			if err := setPasswordHash(ctx, tx, u.ID, newHash, now); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, u.ID, "password.changed", u.ID, nil); err != nil {
				return err
			}
		}
		u, err = s.loadUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
	if err != nil {
		return User{}, err
	}
	if newHash != "" { // a changed password ends the other sessions: whoever knew the old one is out
		others, err := s.Sessions(ctx, p)
		if err != nil {
			return User{}, err
		}
		var ids []string
		for _, o := range others {
			if !o.Current {
				ids = append(ids, o.ID)
			}
		}
		if len(ids) > 0 {
			if err := s.revoke(ctx, u.ID, ids, "password_changed"); err != nil {
				return User{}, err
			}
		}
	}
	return u, nil
}

// recentSignIn is how recently a session without a password to give must
// have signed in to change the account's email.
const recentSignIn = 10 * time.Minute

// reauthenticate checks, before the password or the email changes, that
// the caller holds the account and not only one of its access tokens
// (which a thief could hold for its lifetime, and turn into the account
// through an email change and a password reset): the current password,
// when the account has one, else (only when recent allows it: an email
// change) a sign-in within recentSignIn; and the second factor (aal2) when
// MFA is on.
//
// The password check is a guess at the account's password like a sign-in:
// it spends an attempt of the account's sign-in allowance before comparing
// (throttle.Attempt, so concurrent guesses get no more than the
// allowance), and a right one forgives them. It is not counted against the
// client's IP, which a user with a token could otherwise use to block
// sign-ins from their whole network.
func (s *Service) reauthenticate(ctx context.Context, p *authn.Principal, u User, current string, recent bool) error {
	if u.MFAEnabled && p.AAL != AAL2 {
		return errAAL2Required
	}
	if u.passwordHash == "" && !recent {
		return errs.E(errs.Invalid, "auth.invalid_credentials", "this account has no password: set one through password recovery").
			WithField("currentPassword", "invalid", "the account has no password")
	}
	if u.passwordHash == "" {
		sess, err := sessionByID(ctx, s.DB.SQL(), p.SessionID)
		if err != nil || s.now().Sub(sess.CreatedAt) > recentSignIn {
			return errs.E(errs.Forbidden, "auth.reauthentication_required",
				"sign in again (a code or link mailed to you) and retry within %d minutes", int(recentSignIn.Minutes()))
		}
		return nil
	}
	key := throttle.AccountKey(throttle.SignIn, u.Email)
	if err := spend(ctx, s.Throttle, key); err != nil {
		return err
	}
	ok, _, err := s.Hasher.Verify(ctx, current, u.passwordHash)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.Invalid, "auth.invalid_credentials", "the current password is wrong").
			WithField("currentPassword", "invalid", "the current password is wrong")
	}
	return s.Throttle.Reset(ctx, key)
}
