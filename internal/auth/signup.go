package auth

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// SignUpRequest is the body of POST /v1/auth/signup.
type SignUpRequest struct {
	Email    string          `json:"email"`
	Password string          `json:"password"`
	Data     json.RawMessage `json:"data,omitempty"` // a JSON object of the user's own metadata
}

// maxUserData bounds user metadata: it travels in events and responses.
const maxUserData = 16 << 10

// SignUp creates a user with an email and password and sends the
// verification mail. Every sign-up counts against its IP (each costs a
// hash and a mail to someone): a generous allowance, then backoff. A taken
// email is a 409: unlike sign-in, sign-up cannot hide that without lying
// to the legitimate user, and the throttle bounds how fast anyone probes.
func (s *Service) SignUp(ctx context.Context, req SignUpRequest) (User, error) {
	ipKey := throttle.IPKey(throttle.SignUp, clientFrom(ctx).IP)
	if err := spend(ctx, s.signups, ipKey); err != nil {
		return User{}, err
	}
	email, err := checkEmail(req.Email)
	if err != nil {
		return User{}, err
	}
	if err := s.Policy.Validate(req.Password); err != nil {
		return User{}, err
	}
	if err := checkUserData(req.Data); err != nil {
		return User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, req.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: newID(), Email: email, Data: orEmptyObject(req.Data), AppData: json.RawMessage(`{}`),
		Roles: []string{}, CreatedAt: now, UpdatedAt: now, passwordHash: hash}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ID, "user.created", u.ID, map[string]any{"method": "password"}); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, EventUserCreated, u.ID, userEvent(u)); err != nil {
			return err
		}
		return s.queueVerification(ctx, tx, u)
	})
	if errs.CodeOf(err) == "auth.email_taken" {
		_ = s.signups.Fail(ctx, ipKey) // probing for accounts costs the prober twice
	}
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// checkUserData accepts a JSON object of bounded size.
func checkUserData(data json.RawMessage) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	var obj map[string]any
	if len(data) > maxUserData || json.Unmarshal(data, &obj) != nil {
		return errs.E(errs.Invalid, "auth.invalid_user_data", "data must be a JSON object of at most 16 KiB").
			WithField("data", "invalid", "a JSON object of at most 16 KiB")
	}
	return nil
}
