package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/transport"
)

// API keys are long-lived credentials for machines and scripts, made by a
// user or service account and scoped to a subset of its permissions. A key
// reads bam_<8 chars>_<43 chars>: the bam_ prefix lets secret scanners find
// leaked keys, the 8 characters after it (the key's prefix, shown in lists)
// let people tell keys apart; only the key's SHA-256 is stored.
//
// Services check keys with POST /v1/auth/keys/verify, through
// internal/authn's APIKeyVerifier (which caches answers for a few
// seconds: a revoked key works at most that long). A key's permissions are
// cut, at every check, to what its owner still holds, and a disabled or
// deleted owner's keys stop working.

// APIKey is a key as its owner sees it; Key is set only in the answer to
// its creation.
type APIKey struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Permissions []string   `json:"permissions"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Key         string     `json:"key,omitempty"`
}

// APIKeyRequest is the body of POST /v1/auth/keys.
type APIKeyRequest struct {
	Name        string     `json:"name"`
	Permissions []string   `json:"permissions"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
}

// APIKeyCheck is the answer of POST /v1/auth/keys/verify, the contract
// internal/authn's APIKeyVerifier reads.
type APIKeyCheck struct {
	Subject     string     `json:"subject"`
	KeyID       string     `json:"keyId"`
	Permissions []string   `json:"permissions"`
	Roles       []string   `json:"roles"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
}

// apiKeyTouchEvery bounds the writes last_used_at costs.
const apiKeyTouchEvery = time.Minute

var errAPIKeyInvalid = errs.E(errs.Unauthenticated, authn.CodeTokenInvalid, "The credential is invalid.")

// apiKeyRoutes registers API key management and verification.
func (s *Service) apiKeyRoutes(r router) {
	r.authed("POST /v1/auth/keys", s.handleCreateAPIKey)
	r.authed("GET /v1/auth/keys", s.handleListAPIKeys)
	r.authed("DELETE /v1/auth/keys/{id}", s.handleRevokeAPIKey)
	r.public("POST /v1/auth/keys/verify", s.handleVerifyAPIKey)
}

// apiKeyOwner checks that p may manage API keys: a user or service
// account, not a key itself (a leaked key must not mint more).
func apiKeyOwner(p *authn.Principal) error {
	if err := firstParty(p); err != nil {
		return err
	}
	if p.Kind != authn.KindUser && p.Kind != authn.KindService {
		return errs.E(errs.Forbidden, "auth.api_key_forbidden", "API keys are managed with a user or service token")
	}
	return nil
}

// CreateAPIKey makes a key for the caller with at most the caller's
// permissions as of now (a user's token may predate a role granted since);
// a service account's, also at most its token's: a token narrowed by scope
// must not mint a key wider than itself.
func (s *Service) CreateAPIKey(ctx context.Context, p *authn.Principal, req APIKeyRequest) (APIKey, error) {
	if err := apiKeyOwner(p); err != nil {
		return APIKey{}, err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 200 {
		return APIKey{}, errs.E(errs.Invalid, "auth.invalid_api_key_name", "a name of 1 to 200 characters is required").
			WithField("name", "required", "1 to 200 characters")
	}
	perms, err := checkPermissions("permissions", req.Permissions)
	if err != nil {
		return APIKey{}, err
	}
	now := s.now()
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		return APIKey{}, errs.E(errs.Invalid, "auth.invalid_expiry", "expiresAt must be in the future").
			WithField("expiresAt", "past", "must be in the future")
	}
	_, held, err := s.ownerPermissions(ctx, s.DB.SQL(), p.Subject)
	if err != nil {
		return APIKey{}, err
	}
	limits := [][]string{held}
	if p.Kind == authn.KindService {
		limits = append(limits, p.Permissions)
	}
	for _, have := range limits {
		if missing, ok := covers(have, perms); !ok {
			return APIKey{}, errs.E(errs.Forbidden, "auth.permission_not_held",
				"you cannot give a key the permission %q: you (or this token) do not hold it", missing).
				WithField("permissions", "not_held", "at most your own permissions")
		}
	}
	short := randomShort()
	k := apiKeyRow{APIKey: APIKey{ID: newID(), Name: name, Prefix: authn.APIKeyPrefix + short,
		Permissions: perms, CreatedAt: now}, ownerID: p.Subject}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	k.Key = randomToken(k.Prefix + "_")
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertAPIKey(ctx, tx, k, hashToken(k.Key)); err != nil {
			return err
		}
		return s.audit(ctx, tx, p.Subject, "api_key.created", k.ID, map[string]any{"name": name, "permissions": perms})
	})
	return k.APIKey, err
}

// randomShort is 8 random lower-case base32 characters.
func randomShort() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// ownerPermissions returns the roles and permissions an API key owner (a
// user or a service account) holds now; an owner that is gone or disabled
// is errAPIKeyInvalid.
func (s *Service) ownerPermissions(ctx context.Context, q store.Querier, owner string) (roles, perms []string, err error) {
	u, err := userByID(ctx, q, owner)
	switch {
	case err == nil && u.Disabled:
		return nil, nil, errAPIKeyInvalid
	case errs.CodeOf(err) == "auth.user_not_found":
		c, err := oauthClientByID(ctx, q, owner)
		if err != nil || c.Disabled {
			return nil, nil, errAPIKeyInvalid
		}
	case err != nil:
		return nil, nil, err
	}
	return rolesOf(ctx, q, owner)
}

// APIKeys lists the caller's keys, without their secrets.
func (s *Service) APIKeys(ctx context.Context, p *authn.Principal) ([]APIKey, error) {
	if err := apiKeyOwner(p); err != nil {
		return nil, err
	}
	return apiKeysOf(ctx, s.DB.SQL(), p.Subject)
}

// RevokeAPIKey revokes one of the caller's keys.
func (s *Service) RevokeAPIKey(ctx context.Context, p *authn.Principal, id string) error {
	if err := apiKeyOwner(p); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := revokeAPIKey(ctx, tx, p.Subject, id, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, p.Subject, "api_key.revoked", id, nil); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventAPIKeyRevoked, id, APIKeyRevokedEvent{KeyID: id, Owner: p.Subject})
	})
}

// VerifyAPIKey checks a key: known, not revoked, not expired, its owner
// still there. The permissions are the key's that the owner still holds.
//
// Refused keys count against the caller's IP, which is blocked, with
// backoff, after ipAllowance of them. A trusted proxy asking for itself
// (the gateway's edge auth, with no X-Forwarded-For) is not counted: it
// asks for many clients at once, and limits them by IP itself; one that
// names its client (authn.WithClientIP) has that client counted.
func (s *Service) VerifyAPIKey(ctx context.Context, key string) (APIKeyCheck, error) {
	ipKey := ""
	if ip := clientFrom(ctx).IP; !s.isTrustedProxy(ip) {
		ipKey = throttle.IPKey(throttle.APIKey, ip)
	}
	if retry, err := s.perIP.Check(ctx, ipKey); err != nil {
		return APIKeyCheck{}, err
	} else if retry > 0 {
		return APIKeyCheck{}, tooManyAttempts(retry)
	}
	check, err := s.verifyAPIKey(ctx, key)
	if err == errAPIKeyInvalid {
		if ferr := s.perIP.Fail(ctx, ipKey); ferr != nil {
			return APIKeyCheck{}, ferr
		}
	}
	return check, err
}

// verifyAPIKey is VerifyAPIKey without the throttle.
func (s *Service) verifyAPIKey(ctx context.Context, key string) (APIKeyCheck, error) {
	if !authn.IsAPIKey(key) || len(key) > 512 {
		return APIKeyCheck{}, errAPIKeyInvalid
	}
	k, err := apiKeyByHash(ctx, s.DB.SQL(), hashToken(key))
	if errs.CodeOf(err) == "auth.api_key_not_found" {
		return APIKeyCheck{}, errAPIKeyInvalid
	}
	if err != nil {
		return APIKeyCheck{}, err
	}
	now := s.now()
	if k.revoked || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return APIKeyCheck{}, errAPIKeyInvalid
	}
	_, held, err := s.ownerPermissions(ctx, s.DB.SQL(), k.ownerID)
	if err != nil {
		return APIKeyCheck{}, err
	}
	perms := []string{}
	for _, p := range k.Permissions {
		if _, ok := covers(held, []string{p}); ok {
			perms = append(perms, p)
		}
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= apiKeyTouchEvery {
		if err := touchAPIKey(ctx, s.DB.SQL(), k.ID, now); err != nil {
			s.Log.WarnContext(ctx, "api key last use not recorded", "key", k.ID, "err", err)
		}
	}
	return APIKeyCheck{Subject: k.ownerID, KeyID: k.ID, Permissions: perms, Roles: []string{}, ExpiresAt: k.ExpiresAt}, nil
}

// apiKeyVerifier is the APIKeyVerifier of the service's own routes: it
// calls the verification handler in-process, no socket.
func (s *Service) apiKeyVerifier() *authn.APIKeyVerifier {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/auth/keys/verify", keyClient(http.HandlerFunc(s.handleVerifyAPIKey)))
	v, err := authn.NewAPIKeyVerifier(authn.APIKeyOptions{Endpoint: "http://auth.in-process/v1/auth/keys/verify",
		Client: &http.Client{Transport: transport.InProcess(mux)}, Clock: s.opts.Clock})
	if err != nil {
		panic(err) // only for a missing endpoint
	}
	return v
}

func (s *Service) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req APIKeyRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	k, err := s.CreateAPIKey(r.Context(), p, req)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusCreated, k)
}

func (s *Service) handleListAPIKeys(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	list, err := s.APIKeys(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, httpx.List[APIKey]{Items: list})
}

func (s *Service) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := s.RevokeAPIKey(r.Context(), p, r.PathValue("id")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleVerifyAPIKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key string `json:"key"`
	}
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	check, err := s.VerifyAPIKey(r.Context(), req.Key)
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, check)
}
