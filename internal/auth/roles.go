package auth

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Roles carry permissions; users and service accounts get roles; tokens
// carry both (rolesOf in store_users.go). A change to someone's roles, or
// to a role's permissions, shows in their tokens from their next refresh
// (at most the access-token lifetime later); service accounts get it with
// their next client_credentials token, API keys at once (their permissions
// are checked against their owner's on every verification).

// Role is a named set of permissions.
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// RoleUpdate is the body of PATCH /v1/auth/admin/roles/{name}; absent
// fields are left alone.
type RoleUpdate struct {
	Description *string   `json:"description,omitempty"`
	Permissions *[]string `json:"permissions,omitempty"`
}

const maxPermissions = 200

var (
	roleNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,63}$`)
	permissionRE = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?$`)

	errRoleNotFound = errs.E(errs.NotFound, "auth.role_not_found", "no such role")
)

// checkPermissions validates permission strings — dotted lower-case
// segments, "*" allowed as the last segment ("content.*"), or "admin" —
// and returns them sorted without duplicates.
func checkPermissions(field string, perms []string) ([]string, error) {
	if len(perms) > maxPermissions {
		return nil, errs.E(errs.Invalid, "auth.invalid_permission", "at most %d permissions", maxPermissions).
			WithField(field, "too_many", "too many permissions")
	}
	for _, p := range perms {
		if len(p) > 128 || !permissionRE.MatchString(p) {
			return nil, errs.E(errs.Invalid, "auth.invalid_permission", "%q is not a permission", p).
				WithField(field, "invalid", `dotted lower-case segments like "content.posts.write", "content.*", or "admin"`)
		}
	}
	out := sortedCopy(perms)
	return nonNil(slices.Compact(out)), nil
}

func checkRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return errs.E(errs.Invalid, "auth.invalid_role", "%q is not a role name", name).
			WithField("name", "invalid", "lower-case letters, digits, _ . : -, at most 64")
	}
	return nil
}

// covers reports whether holding perms grants every one of want (a
// pattern in want must be held as broadly: "content.*" covers
// "content.posts.*", not the other way round).
func covers(perms, want []string) (missing string, ok bool) {
	holder := &authn.Principal{Permissions: perms}
	for _, w := range want {
		if !holder.HasPermission(w) {
			return w, false
		}
	}
	return "", true
}

// Roles lists every role.
func (s *Service) Roles(ctx context.Context) ([]Role, error) { return listRoles(ctx, s.DB.SQL()) }

// Role returns one role.
func (s *Service) Role(ctx context.Context, name string) (Role, error) {
	return roleByName(ctx, s.DB.SQL(), name)
}

// CreateRole makes a role; the name is its key and cannot change.
func (s *Service) CreateRole(ctx context.Context, actor string, r Role) (Role, error) {
	if err := checkRoleName(r.Name); err != nil {
		return Role{}, err
	}
	perms, err := checkPermissions("permissions", r.Permissions)
	if err != nil {
		return Role{}, err
	}
	now := s.now()
	r = Role{Name: r.Name, Description: r.Description, Permissions: perms, CreatedAt: now, UpdatedAt: now}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertRole(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "role.created", r.Name, map[string]any{"permissions": perms})
	})
	return r, err
}

// UpdateRole changes a role's description or permissions.
func (s *Service) UpdateRole(ctx context.Context, actor, name string, req RoleUpdate) (Role, error) {
	var r Role
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if r, err = roleByName(ctx, tx, name); err != nil {
			return err
		}
		if req.Description != nil {
			r.Description = *req.Description
		}
		if req.Permissions != nil {
			if r.Permissions, err = checkPermissions("permissions", *req.Permissions); err != nil {
				return err
			}
		}
		r.UpdatedAt = s.now()
		if err := updateRole(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "role.updated", r.Name, map[string]any{"permissions": r.Permissions})
	})
	return r, err
}

// DeleteRole removes a role and every assignment of it.
func (s *Service) DeleteRole(ctx context.Context, actor, name string) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := deleteRole(ctx, tx, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "role.deleted", name, nil)
	})
}

// SetUserRoles replaces the roles of a user.
func (s *Service) SetUserRoles(ctx context.Context, actor, userID string, roles []string) (User, error) {
	var u User
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = userByID(ctx, tx, userID); err != nil {
			return err
		}
		if err := s.setRoles(ctx, tx, actor, userID, roles); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, userID); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
	return u, err
}

// setRoles replaces the roles of subject (a user or client id) in tx.
func (s *Service) setRoles(ctx context.Context, tx *store.Tx, actor, subject string, roles []string) error {
	roles = slices.Compact(sortedCopy(roles))
	for _, name := range roles {
		if _, err := roleByName(ctx, tx, name); err != nil {
			if errs.CodeOf(err) == "auth.role_not_found" {
				return errs.E(errs.Invalid, "auth.unknown_role", "there is no role %q", name).
					WithField("roles", "unknown", "create the role first")
			}
			return err
		}
	}
	if err := replaceSubjectRoles(ctx, tx, subject, roles); err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "roles.assigned", subject, map[string]any{"roles": nonNil(roles)})
}
