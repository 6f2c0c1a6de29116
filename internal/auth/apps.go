package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// Apps are OAuth clients of kind "app": web, single-page or native apps
// that get tokens for bam users through the authorization endpoint. An
// admin registers one with its redirect URIs; a confidential app (one with
// a server) gets a secret, shown once, a public one (browser, mobile) none
// and must use PKCE.

// App is a registered app client.
type App struct {
	ID           string    `json:"id"` // client_id
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirectUris"`
	Public       bool      `json:"public"`
	CreatedAt    time.Time `json:"createdAt"`
	// Secret is the client_secret of a confidential app, only in the
	// answer to the creation.
	Secret string `json:"secret,omitempty"`
}

// AppRequest is the body of POST /v1/auth/admin/apps.
type AppRequest struct {
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirectUris"`
	Public       bool     `json:"public"`
}

var errAppMissing = errs.E(errs.NotFound, "auth.app_not_found", "no such app")

// CreateApp registers an app client.
func (s *Service) CreateApp(ctx context.Context, actor string, req AppRequest) (App, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 200 {
		return App{}, errs.E(errs.Invalid, "auth.invalid_app", "a name of 1 to 200 characters is required").
			WithField("name", "required", "1 to 200 characters")
	}
	if len(req.RedirectURIs) == 0 || len(req.RedirectURIs) > 20 {
		return App{}, errs.E(errs.Invalid, "auth.invalid_app", "1 to 20 redirect URIs are required").
			WithField("redirectUris", "required", "1 to 20 absolute URIs")
	}
	for _, u := range req.RedirectURIs {
		if !validRedirectURI(u) {
			return App{}, errs.E(errs.Invalid, "auth.invalid_app", "redirect URI %q is not allowed", u).
				WithField("redirectUris", "invalid",
					"https URIs; http only on localhost or a loopback address; or a private-use scheme (com.example.app:/cb); no fragment")
		}
	}
	a := App{ID: newID(), Name: name, RedirectURIs: req.RedirectURIs, Public: req.Public, CreatedAt: s.now()}
	var hash sql.NullString
	if !req.Public {
		a.Secret = randomToken("bamcs_")
		hash = nullString(hashToken(a.Secret))
	}
	uris, _ := json.Marshal(a.RedirectURIs)
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_clients (id, name, secret_hash, kind, redirect_uris, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, a.Name, hash, oauthAppKind, string(uris), a.CreatedAt); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "app.created", a.ID, map[string]any{"name": name, "redirectUris": a.RedirectURIs})
	})
	return a, err
}

// validRedirectURI applies RFC 9700 §2.1 and RFC 8252 §7: exact,
// absolute, no fragment; https, or http on the loopback (native apps), or
// a private-use scheme in reverse-domain form.
func validRedirectURI(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Fragment != "" || strings.Contains(raw, "#") || u.Scheme == "" {
		return false
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		return u.Host != ""
	case scheme == "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	default:
		return strings.Contains(scheme, ".") // com.example.app
	}
}

// Apps lists the registered apps.
func (s *Service) Apps(ctx context.Context) ([]App, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT id, name, secret_hash, redirect_uris, created_at FROM auth_clients
		WHERE kind = $1 ORDER BY id`, oauthAppKind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []App{}
	for rows.Next() {
		var (
			a      App
			secret sql.NullString
			uris   string
		)
		if err := rows.Scan(&a.ID, &a.Name, &secret, &uris, &a.CreatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(uris), &a.RedirectURIs); err != nil {
			return nil, err
		}
		a.Public, a.CreatedAt = !secret.Valid, a.CreatedAt.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteApp removes an app: its codes can no longer be exchanged, and the
// sessions it was issued tokens in are revoked on every replica
// (session_client.go).
func (s *Service) DeleteApp(ctx context.Context, actor, id string) error {
	now := s.now()
	var revoked []string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_clients WHERE id = $1 AND kind = $2`, id, oauthAppKind)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errAppMissing
		}
		if revoked, err = s.revokeClientSessions(ctx, tx, actor, id, "app_deleted", now); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "app.deleted", id, map[string]any{"sessions": len(revoked)})
	})
	if err != nil {
		return err
	}
	for _, sid := range revoked { // this replica at once; the others through the bus
		s.deny.RevokeSession(sid, now)
	}
	return nil
}

// appRoutes registers the admin API of apps; every route needs the admin
// permission.
func (s *Service) appRoutes(r router) {
	admin := func(pattern string, h func(http.ResponseWriter, *http.Request, *authn.Principal)) {
		guarded := authn.RequirePermission(authn.AdminPermission)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			p, _ := authn.FromContext(req.Context())
			h(w, req, p)
		}))
		r.authed(pattern, func(w http.ResponseWriter, req *http.Request, p *authn.Principal) {
			if err := firstParty(p); err != nil {
				httpx.WriteError(w, req, err)
				return
			}
			guarded.ServeHTTP(w, req)
		})
	}
	admin("GET /v1/auth/admin/apps", func(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
		list, err := s.Apps(r.Context())
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		_ = httpx.WriteJSON(w, http.StatusOK, httpx.List[App]{Items: list})
	})
	admin("POST /v1/auth/admin/apps", func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		var req AppRequest
		if err := httpx.DecodeJSON(w, r, &req); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		a, err := s.CreateApp(r.Context(), p.Subject, req)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		_ = httpx.WriteJSON(w, http.StatusCreated, a)
	})
	admin("DELETE /v1/auth/admin/apps/{id}", func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		if err := s.DeleteApp(r.Context(), p.Subject, r.PathValue("id")); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
