package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Service accounts are machines: an admin creates one (POST
// /v1/auth/admin/clients) and gets its client_id and secret once; the
// machine exchanges them for access tokens with the client_credentials
// grant (RFC 6749 §4.4). The token's sub is the client id, kind "service",
// no sid and no refresh token: the machine asks again when it expires.
// Its roles are assigned like a user's.

// ServiceAccount is a client of kind "service".
type ServiceAccount struct {
	ID        string    `json:"id"` // client_id
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	// Secret is the client_secret, only in the answer to the creation.
	Secret string `json:"secret,omitempty"`
}

// ServiceAccountRequest is the body of POST /v1/auth/admin/clients.
type ServiceAccountRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

const (
	clientKindService   = "service"
	clientSecretPrefix  = "bamcs_"
	clientThrottleLabel = "client"
)

var (
	errInvalidClient = errs.E(errs.Unauthenticated, "auth.invalid_client", "client authentication failed")
	errClientMissing = errs.E(errs.NotFound, "auth.client_not_found", "no such service account")
	// dummyClientHash is compared against when the client does not exist,
	// so an unknown id costs as much as a wrong secret.
	dummyClientHash = hashToken("bam: no such client")
)

// CreateServiceAccount makes a service account with roles.
func (s *Service) CreateServiceAccount(ctx context.Context, actor string, req ServiceAccountRequest) (ServiceAccount, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 200 {
		return ServiceAccount{}, errs.E(errs.Invalid, "auth.invalid_client_name", "a name of 1 to 200 characters is required").
			WithField("name", "required", "1 to 200 characters")
	}
	a := ServiceAccount{ID: newID(), Name: name, CreatedAt: s.now(), Secret: randomToken(clientSecretPrefix)}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_clients (id, name, secret_hash, kind, created_at)
			VALUES ($1, $2, $3, $4, $5)`, a.ID, a.Name, hashToken(a.Secret), clientKindService, a.CreatedAt); err != nil {
			return err
		}
		if err := s.setRoles(ctx, tx, actor, a.ID, req.Roles); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, "client.created", a.ID, map[string]any{"name": name}); err != nil {
			return err
		}
		var err error
		a.Roles, _, err = rolesOf(ctx, tx, a.ID)
		a.Roles = nonNil(a.Roles)
		return err
	})
	return a, err
}

// ServiceAccounts lists the service accounts.
func (s *Service) ServiceAccounts(ctx context.Context) ([]ServiceAccount, error) {
	rows, err := s.DB.SQL().QueryContext(ctx, `SELECT id, name, disabled_at, created_at FROM auth_clients
		WHERE kind = $1 ORDER BY id`, clientKindService)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ServiceAccount{}
	for rows.Next() {
		var (
			a        ServiceAccount
			disabled sql.NullTime
		)
		if err := rows.Scan(&a.ID, &a.Name, &disabled, &a.CreatedAt); err != nil {
			return nil, err
		}
		a.Disabled, a.CreatedAt = disabled.Valid, a.CreatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		roles, _, err := rolesOf(ctx, s.DB.SQL(), out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Roles = nonNil(roles)
	}
	return out, nil
}

// serviceAccount loads a client of kind service.
func serviceAccount(ctx context.Context, q store.Querier, id string) (oauthClient, error) {
	c, err := oauthClientByID(ctx, q, id)
	if errors.Is(err, errNoClient) || (err == nil && c.Kind != clientKindService) {
		return oauthClient{}, errClientMissing
	}
	return c, err
}

// SetServiceAccountRoles replaces a service account's roles; its next
// token carries them.
func (s *Service) SetServiceAccountRoles(ctx context.Context, actor, id string, roles []string) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := serviceAccount(ctx, tx, id); err != nil {
			return err
		}
		return s.setRoles(ctx, tx, actor, id, roles)
	})
}

// DeleteServiceAccount removes a service account, its roles and API keys,
// and revokes its tokens on every replica.
func (s *Service) DeleteServiceAccount(ctx context.Context, actor, id string) error {
	now := s.now()
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := serviceAccount(ctx, tx, id); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM auth_clients WHERE id = $1`, `DELETE FROM auth_subject_roles WHERE subject = $1`,
			`DELETE FROM auth_api_keys WHERE owner_id = $1`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, tx, actor, "client.deleted", id, nil); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventSessionRevoked, id, SessionRevokedEvent{Sub: id, All: true})
	})
	if err == nil {
		s.deny.RevokeSubject(id, now)
	}
	return err
}

// clientCredentials are what a client authenticated with.
type clientCredentials struct {
	ID, Secret, Scope string
}

// clientCredentialsOf reads HTTP Basic (RFC 6749 §2.3.1: both parts
// form-encoded) or client_id/client_secret from the body; both at once is
// an error.
func clientCredentialsOf(r *http.Request, req tokenRequest) (clientCredentials, error) {
	c := clientCredentials{ID: req.ClientID, Secret: req.ClientSecret, Scope: req.Scope}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return c, nil
	}
	if c.ID != "" || c.Secret != "" {
		return c, errs.E(errs.Invalid, "auth.invalid_request", "send the client credentials one way: Basic or the body")
	}
	var err1, err2 error
	c.ID, err1 = url.QueryUnescape(id)
	c.Secret, err2 = url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return c, errInvalidClient
	}
	return c, nil
}

// clientCredentialsGrant is the token endpoint's client_credentials case.
func (s *Service) clientCredentialsGrant(r *http.Request, req tokenRequest) (TokenResponse, error) {
	c, err := clientCredentialsOf(r, req)
	if err != nil {
		return TokenResponse{}, err
	}
	return s.ClientCredentials(r.Context(), c)
}

// ClientCredentials is the client_credentials grant: a service account's
// secret for an access token. scope, when given, narrows the token's
// permissions to those listed (each must be held).
func (s *Service) ClientCredentials(ctx context.Context, c clientCredentials) (TokenResponse, error) {
	ipKey := throttle.IPKey(clientThrottleLabel, clientFrom(ctx).IP)
	if err := s.checkThrottle(ctx, ipKey); err != nil {
		return TokenResponse{}, err
	}
	client, err := oauthClientByID(ctx, s.DB.SQL(), c.ID)
	if err != nil && !errors.Is(err, errNoClient) {
		return TokenResponse{}, err
	}
	stored := client.secretHash
	if stored == "" {
		stored = dummyClientHash
	}
	match := subtle.ConstantTimeCompare([]byte(hashToken(c.Secret)), []byte(stored)) == 1
	if !match || c.Secret == "" || client.ID == "" || client.Disabled {
		if err := s.Throttle.Fail(ctx, ipKey); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, errInvalidClient
	}
	if client.Kind != clientKindService {
		return TokenResponse{}, errs.E(errs.Invalid, "auth.unauthorized_client",
			"this client may not use the client_credentials grant")
	}
	roles, perms, err := rolesOf(ctx, s.DB.SQL(), client.ID)
	if err != nil {
		return TokenResponse{}, err
	}
	if c.Scope != "" {
		want := strings.Fields(c.Scope)
		if missing, ok := covers(perms, want); !ok {
			return TokenResponse{}, errs.E(errs.Invalid, "auth.invalid_scope", "the client does not hold %q", missing)
		}
		// A narrowed token carries the scope only: its roles would give
		// back what the scope left out wherever roles are checked.
		perms, roles = sortedCopy(want), nil
	}
	now := s.now()
	access, err := s.Keys.Sign(ctx, accessClaims{
		Issuer: s.opts.Issuer, Subject: client.ID, Audience: []string{s.opts.Audience},
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(s.opts.AccessTokenTTL).Unix(),
		ID: newID(), ClientID: client.ID, Kind: KindService,
		Roles: nonNil(roles), Permissions: nonNil(perms), Scope: strings.Join(perms, " "),
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.opts.AccessTokenTTL.Seconds()),
		Scope: strings.Join(perms, " ")}, nil
}
