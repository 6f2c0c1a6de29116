package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/store"
)

// Chores run from the command line (bam admin create, bam auth
// rotate-keys) against the configured database, with no listener or bus:
// the events they record wait in the outbox until the service runs.

// AdminRole is the role EnsureAdmin gives; it holds the admin permission.
const AdminRole = "admin"

// Offline is the auth service opened for a command-line chore.
type Offline struct {
	*Service
	db *store.DB
}

// Close closes the database.
func (o *Offline) Close() error { return o.db.Close() }

// OpenOffline opens the auth service's database (applying migrations),
// keys and logic as p's configuration says.
func OpenOffline(ctx context.Context, p *platform.Platform) (*Offline, error) {
	c := p.Config.Auth
	secret, err := loadSecret(p.Config)
	if err != nil {
		return nil, err
	}
	db, err := p.OpenStore(ctx, Name, Migrations...)
	if err != nil {
		return nil, err
	}
	svc, err := func() (*Service, error) {
		km, err := keys.New(db, keys.Options{Secret: secret, Alg: jose.SignatureAlgorithm(c.SigningAlg),
			TokenTTL: c.AccessTokenTTL, Logger: p.Log})
		if err != nil {
			return nil, err
		}
		hasher, err := password.NewHasher(password.Options{})
		if err != nil {
			return nil, err
		}
		policy := password.Policy{}
		if c.BreachedPasswords != "" {
			if policy.Breached, err = password.OpenBreached(c.BreachedPasswords); err != nil {
				return nil, fmt.Errorf("auth.breached_passwords: %w", err)
			}
		}
		th, err := throttle.New(db, throttle.Policy{})
		if err != nil {
			return nil, err
		}
		return New(ctx, Deps{DB: db, Outbox: outbox.New(db, nil, outbox.Options{Logger: p.Log}), Keys: km,
			Hasher: hasher, Policy: policy, Throttle: th, Log: p.Log},
			Options{Issuer: p.Config.PublicURL, Audience: c.Audience, SiteURL: p.Config.PublicURL,
				AccessTokenTTL: c.AccessTokenTTL, SessionTTL: c.SessionTTL, RefreshReuseGrace: c.RefreshReuseGrace,
				Secret: secret})
	}()
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Offline{Service: svc, db: db}, nil
}

// EnsureAdmin makes email an administrator with password pw: it creates
// the admin role (permission admin) when missing, then creates the user
// (email verified) or, when the user exists, sets the password and
// re-enables the account; either way the user gets the role. It reports
// whether the user was created. Running it again is harmless.
func (s *Service) EnsureAdmin(ctx context.Context, email, pw string) (created bool, err error) {
	email, err = checkEmail(email)
	if err != nil {
		return false, err
	}
	if err := s.Policy.Validate(pw); err != nil {
		return false, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return false, err
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		created = false
		role, err := roleByName(ctx, tx, AdminRole)
		switch {
		case errors.Is(err, errRoleNotFound):
			r := Role{Name: AdminRole, Description: "Administrators: every permission",
				Permissions: []string{"admin"}, CreatedAt: now, UpdatedAt: now}
			if err := insertRole(ctx, tx, r); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "", "role.created", AdminRole, map[string]any{"by": "cli"}); err != nil {
				return err
			}
		case err != nil:
			return err
		case !slices.Contains(role.Permissions, "admin"):
			// The role was edited through the API: the command that recovers
			// an administrator must give one, so the permission comes back.
			role.Permissions, role.UpdatedAt = append(role.Permissions, "admin"), now
			if err := updateRole(ctx, tx, role); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "", "role.updated", AdminRole, map[string]any{"by": "cli", "restored": "admin"}); err != nil {
				return err
			}
		}
		u, err := userByEmail(ctx, tx, email)
		event := EventUserUpdated
		switch {
		case errors.Is(err, errUserNotFound):
			created, event = true, EventUserCreated
			u = User{ID: newID(), Email: email, EmailVerified: true, Data: json.RawMessage(`{}`),
				AppData: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now, passwordHash: hash}
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			// Whoever signed in with the old password (an account someone
			// registered first under this address, or an intruder the
			// operator is locking out) loses every session before the
			// account becomes an administrator.
			if err := setPasswordHash(ctx, tx, u.ID, hash, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE auth_users SET disabled_at = NULL WHERE id = $1`, u.ID); err != nil {
				return err
			}
			if err := markEmailVerified(ctx, tx, u.ID, now); err != nil {
				return err
			}
			if err := s.revokeAllSessions(ctx, tx, u.ID, "admin_ensured", now); err != nil {
				return err
			}
		}
		if err := addSubjectRole(ctx, tx, u.ID, AdminRole); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, "", "admin.ensured", u.ID, map[string]any{"by": "cli", "created": created}); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.emit(ctx, tx, event, u.ID, userEvent(u))
	})
	return created, err
}

// RotateKeys makes a new signing key current now; the previous one stays
// published until its tokens have expired. It returns the new key's id.
func (s *Service) RotateKeys(ctx context.Context) (string, error) { return s.Keys.Rotate(ctx) }

// bootstrapAdmin gives a fresh embedded setup its first administrator:
// when no user holds the admin permission, it creates admin@<public host>
// with a generated password and prints both once to w (not to the log,
// which may be shipped elsewhere). Shared-database setups are left to
// `bam admin create`, and so is a setup whose bootstrap address is taken.
func (s *Service) bootstrapAdmin(ctx context.Context, publicURL string, w io.Writer) error {
	if ok, err := hasAdmin(ctx, s.DB.SQL()); err != nil || ok {
		return err
	}
	email := "admin@bam.localhost"
	if u, err := url.Parse(publicURL); err == nil && strings.Contains(u.Hostname(), ".") && net.ParseIP(u.Hostname()) == nil {
		email = "admin@" + u.Hostname()
	}
	if _, err := userByEmail(ctx, s.DB.SQL(), email); !errors.Is(err, errUserNotFound) {
		if err == nil {
			s.Log.WarnContext(ctx, "auth: no administrator; create one with `bam admin create --email E --password P`")
		}
		return err
	}
	pw := randomToken("")[:24]
	if _, err := s.EnsureAdmin(ctx, email, pw); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nbam: created the first administrator — shown only this once:\n"+
		"  email:    %s\n  password: %s\nChange it with `bam admin create --email %s --password …`.\n\n", email, pw, email)
	return err
}
