package auth

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// What admins do to users. actor is the admin's subject, for the audit.

// AdminUserRequest is the body of POST /v1/auth/admin/users.
type AdminUserRequest struct {
	Email         string          `json:"email"`
	Password      string          `json:"password,omitempty"` // none: the user signs in by code or link
	EmailVerified bool            `json:"emailVerified,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	AppData       json.RawMessage `json:"appData,omitempty"`
	Roles         []string        `json:"roles,omitempty"`
}

// AdminUserUpdate is the body of PATCH /v1/auth/admin/users/{id}; absent
// fields are left alone.
type AdminUserUpdate struct {
	Email         *string         `json:"email,omitempty"`
	Password      *string         `json:"password,omitempty"`
	EmailVerified *bool           `json:"emailVerified,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	AppData       json.RawMessage `json:"appData,omitempty"`
	Disabled      *bool           `json:"disabled,omitempty"`
}

// ListUsers pages through users, optionally those whose email contains search.
func (s *Service) ListUsers(ctx context.Context, search string, lp httpx.ListParams) (httpx.List[User], error) {
	f := userFilter{Search: search, Limit: lp.Limit, Offset: lp.Offset()}
	if lp.Cursor != "" && !lp.Paged() {
		var c struct {
			ID string `json:"id"`
		}
		if err := httpx.DecodeCursor(lp.Cursor, &c); err != nil {
			return httpx.List[User]{}, err
		}
		f.After = c.ID
	}
	f.Limit++ // one more tells whether a next page exists
	users, err := listUsers(ctx, s.DB.SQL(), f)
	if err != nil {
		return httpx.List[User]{}, err
	}
	out := httpx.List[User]{Items: users}
	if len(users) > lp.Limit {
		out.Items = users[:lp.Limit]
		if !lp.Paged() {
			out.NextCursor = httpx.EncodeCursor(struct {
				ID string `json:"id"`
			}{out.Items[len(out.Items)-1].ID})
		}
	}
	if lp.Paged() {
		out.Page, out.PerPage = lp.Page, lp.Limit
	}
	for i := range out.Items {
		roles, _, err := rolesOf(ctx, s.DB.SQL(), out.Items[i].ID)
		if err != nil {
			return httpx.List[User]{}, err
		}
		out.Items[i].Roles = nonNil(roles)
	}
	if lp.Count {
		n, err := countUsers(ctx, s.DB.SQL(), f)
		if err != nil {
			return httpx.List[User]{}, err
		}
		out.TotalItems = &n
	}
	return out, nil
}

// AdminUser returns one user.
func (s *Service) AdminUser(ctx context.Context, id string) (User, error) {
	return s.loadUser(ctx, s.DB.SQL(), id)
}

// AdminCreateUser creates a user, with or without a password, verified or not.
func (s *Service) AdminCreateUser(ctx context.Context, actor string, req AdminUserRequest) (User, error) {
	email, err := checkEmail(req.Email)
	if err != nil {
		return User{}, err
	}
	if err := checkUserData(req.Data); err != nil {
		return User{}, err
	}
	if err := checkAppData(req.AppData); err != nil {
		return User{}, err
	}
	var hash string
	if req.Password != "" {
		if err := s.Policy.Validate(req.Password); err != nil {
			return User{}, err
		}
		if hash, err = s.Hasher.Hash(ctx, req.Password); err != nil {
			return User{}, err
		}
	}
	now := s.now()
	u := User{ID: newID(), Email: email, EmailVerified: req.EmailVerified, Data: orEmptyObject(req.Data),
		AppData: orEmptyObject(req.AppData), CreatedAt: now, UpdatedAt: now, passwordHash: hash}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if len(req.Roles) > 0 {
			if err := s.setRoles(ctx, tx, actor, u.ID, req.Roles); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, actor, "user.created", u.ID, map[string]any{"method": "admin"}); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserCreated, u.ID, userEvent(u))
	})
	return u, err
}

func checkAppData(data json.RawMessage) error {
	if err := checkUserData(data); err != nil {
		return errs.E(errs.Invalid, "auth.invalid_user_data", "appData must be a JSON object of at most 16 KiB").
			WithField("appData", "invalid", "a JSON object of at most 16 KiB")
	}
	return nil
}

// AdminUpdateUser changes a user. Disabling signs them out everywhere at
// once: their sessions end, and their access tokens are revoked on every
// replica (session.revoked with all). A new password ends their sessions.
func (s *Service) AdminUpdateUser(ctx context.Context, actor, id string, req AdminUserUpdate) (User, error) {
	if err := checkUserData(req.Data); err != nil {
		return User{}, err
	}
	if err := checkAppData(req.AppData); err != nil {
		return User{}, err
	}
	var email, hash string
	var err error
	if req.Email != nil {
		if email, err = checkEmail(*req.Email); err != nil {
			return User{}, err
		}
	}
	if req.Password != nil {
		if err := s.Policy.Validate(*req.Password); err != nil {
			return User{}, err
		}
		if hash, err = s.Hasher.Hash(ctx, *req.Password); err != nil {
			return User{}, err
		}
	}
	now := s.now()
	var (
		u          User
		signOutAll bool
	)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		signOutAll = false
		before, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		changed := map[string]bool{}
		set := func(col string, v any) error {
			changed[col] = true
			_, err := tx.ExecContext(ctx, `UPDATE auth_users SET `+col+` = $1, updated_at = $2 WHERE id = $3`, v, now, id)
			return err
		}
		steps := []struct {
			when bool
			col  string
			val  any
		}{
			{email != "" && email != before.Email, "email", email},
			{hash != "", "password_hash", hash},
			{req.EmailVerified != nil, "email_verified_at", nullTime(req.EmailVerified != nil && *req.EmailVerified, now)},
			{len(req.Data) > 0, "data", string(orEmptyObject(req.Data))},
			{len(req.AppData) > 0, "app_data", string(orEmptyObject(req.AppData))},
			{req.Disabled != nil && *req.Disabled != before.Disabled, "disabled_at", nullTime(req.Disabled != nil && *req.Disabled, now)},
		}
		for _, st := range steps {
			if !st.when {
				continue
			}
			if err := set(st.col, st.val); err != nil {
				if st.col == "email" && store.IsUniqueViolation(err) {
					return errs.E(errs.Conflict, "auth.email_taken", "an account with this email already exists").
						WithField("email", "taken", "already registered")
				}
				return err
			}
		}
		if (changed["disabled_at"] && *req.Disabled) || changed["password_hash"] {
			if _, err := revokeSessions(ctx, tx, id, nil, "admin", now); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, EventSessionRevoked, id, SessionRevokedEvent{Sub: id, All: true}); err != nil {
				return err
			}
			signOutAll = true
		}
		if err := s.audit(ctx, tx, actor, "user.updated", id, map[string]any{"changed": keysOf(changed)}); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, id); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
	if err != nil {
		return User{}, err
	}
	if signOutAll { // this replica at once; the others through the bus
		s.deny.RevokeSubject(id, now)
	}
	return u, nil
}

func keysOf(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return sortedCopy(out)
}

// AdminDeleteUser deletes a user and what is keyed by them, revokes their
// tokens everywhere, and announces user.deleted: the event the other
// services erase or anonymise that user's data on.
func (s *Service) AdminDeleteUser(ctx context.Context, actor, id string) error {
	now := s.now()
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := deleteUserRows(ctx, tx, id); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, "user.deleted", id, nil); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, EventSessionRevoked, id, SessionRevokedEvent{Sub: id, All: true}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserDeleted, id, userEvent(u))
	})
	if err == nil {
		s.deny.RevokeSubject(id, now)
	}
	return err
}

// AdminRevokeSessions signs a user out of every session; they can sign in
// again at once (unlike disabling).
func (s *Service) AdminRevokeSessions(ctx context.Context, actor, id string) error {
	now := s.now()
	var revoked []string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := userByID(ctx, tx, id); err != nil {
			return err
		}
		var err error
		if revoked, err = revokeSessions(ctx, tx, id, nil, "admin", now); err != nil {
			return err
		}
		for _, sid := range revoked {
			if err := s.emit(ctx, tx, EventSessionRevoked, sid, SessionRevokedEvent{SID: sid, Sub: id}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, actor, "session.revoked", id, map[string]any{"sessions": revoked, "why": "admin"})
	})
	if err != nil {
		return err
	}
	for _, sid := range revoked {
		s.deny.RevokeSession(sid, now)
	}
	return nil
}

// AuditTrail pages through the audit trail, newest first.
func (s *Service) AuditTrail(ctx context.Context, actor, action, target string, lp httpx.ListParams) (httpx.List[AuditEntry], error) {
	f := auditFilter{Actor: actor, Action: action, Target: target, Limit: lp.Limit + 1}
	if lp.Cursor != "" {
		var c struct {
			ID string `json:"id"`
		}
		if err := httpx.DecodeCursor(lp.Cursor, &c); err != nil {
			return httpx.List[AuditEntry]{}, err
		}
		f.Before = c.ID
	}
	items, err := listAudit(ctx, s.DB.SQL(), f)
	if err != nil {
		return httpx.List[AuditEntry]{}, err
	}
	out := httpx.List[AuditEntry]{Items: items}
	if len(items) > lp.Limit {
		out.Items = items[:lp.Limit]
		out.NextCursor = httpx.EncodeCursor(struct {
			ID string `json:"id"`
		}{out.Items[len(out.Items)-1].ID})
	}
	return out, nil
}
