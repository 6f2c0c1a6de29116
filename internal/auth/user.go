package auth

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// CurrentUser returns the caller's account.
func (s *Service) CurrentUser(ctx context.Context, p *authn.Principal) (User, error) {
	if p.Kind != authn.KindUser {
		return User{}, errs.E(errs.Forbidden, "auth.not_a_user", "this token does not belong to a user")
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
	CurrentPassword string          `json:"currentPassword,omitempty"` // required to set a new password
	Email           string          `json:"email,omitempty"`           // applied once the link mailed to it is opened (email_change.go)
}

// UpdateUser changes the caller's metadata and, given the current
// password, their password; a new password signs out every other session.
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
		// The current-password check is a password guess like any sign-in:
		// same throttles, so a stolen access token cannot brute-force it.
		keys := []string{throttle.AccountKey("signin", u.Email), throttle.IPKey("signin", clientFrom(ctx).IP)}
		if retry, err := s.Throttle.Check(ctx, keys...); err != nil {
			return User{}, err
		} else if retry > 0 {
			return User{}, tooManyAttempts(retry)
		}
		ok, _, err := s.Hasher.Verify(ctx, req.CurrentPassword, u.passwordHash)
		if err != nil || !ok || u.passwordHash == "" {
			if ferr := s.Throttle.Fail(ctx, keys...); ferr != nil {
				return User{}, ferr
			}
			return User{}, errs.E(errs.Invalid, "auth.invalid_credentials", "the current password is wrong").
				WithField("currentPassword", "invalid", "the current password is wrong")
		}
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
