package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// APIKeyPrefix starts every bam API key.
const APIKeyPrefix = "bam_"

// APIKeyVerifier defaults.
const (
	DefaultAPIKeyTTL       = 10 * time.Second
	DefaultAPIKeyCacheSize = 10_000
	maxAPIKeyBytes         = 512
)

// APIKeyOptions configures NewAPIKeyVerifier.
type APIKeyOptions struct {
	// Endpoint is the auth service's key check, e.g.
	// "http://auth/v1/auth/keys/verify".
	Endpoint string
	// Client carries the calls (nil: http.DefaultClient); in one-process
	// mode its transport is transport.InProcess(authHandler).
	Client *http.Client
	// TTL is how long an answer, positive or negative, is reused: a revoked
	// key keeps working for at most this long. 0 means DefaultAPIKeyTTL.
	TTL time.Duration
	// CacheSize bounds the answers kept; 0 means DefaultAPIKeyCacheSize.
	CacheSize int
	// Clock replaces time.Now, for tests.
	Clock func() time.Time
}

// APIKeyVerifier checks bam_… API keys with the auth service. It is safe
// for concurrent use.
type APIKeyVerifier struct {
	opts  APIKeyOptions
	cache *lru.Cache[[sha256.Size]byte, apiKeyAnswer]
}

// apiKeyAnswer is a cached answer: a principal, or the rejection.
type apiKeyAnswer struct {
	p       *Principal
	err     error
	expires time.Time
}

// NewAPIKeyVerifier checks opts and returns an APIKeyVerifier.
func NewAPIKeyVerifier(opts APIKeyOptions) (*APIKeyVerifier, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("authn: api key verifier needs an endpoint")
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultAPIKeyTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultAPIKeyCacheSize
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	c, err := lru.New[[sha256.Size]byte, apiKeyAnswer](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("authn: api key cache: %w", err)
	}
	return &APIKeyVerifier{opts: opts, cache: c}, nil
}

// IsAPIKey reports whether a credential looks like a bam API key rather
// than a JWT.
func IsAPIKey(credential string) bool { return strings.HasPrefix(credential, APIKeyPrefix) }

// Verify checks key and returns a Principal of KindAPIKey, shared between
// callers: do not modify it. Errors are *errs.Error: Unauthenticated with
// CodeTokenMissing, CodeTokenMalformed or CodeTokenInvalid (unknown,
// revoked or expired key), Unavailable with CodeKeysUnavailable when the
// auth service could not answer, or TooManyRequests with
// CodeTooManyAttempts when it refuses to check keys for the client ctx
// names (WithClientIP) because too many of its keys were refused; the last
// two are not cached.
func (a *APIKeyVerifier) Verify(ctx context.Context, key string) (*Principal, error) {
	switch {
	case key == "":
		return nil, fail(CodeTokenMissing, nil)
	case !IsAPIKey(key) || len(key) > maxAPIKeyBytes || len(key) == len(APIKeyPrefix):
		apiKeyVerificationsTotal.WithLabelValues("invalid").Inc()
		return nil, fail(CodeTokenMalformed, errors.New("not a bam_ API key"))
	}
	sum := sha256.Sum256([]byte(key))
	now := a.opts.Clock()
	if ans, ok := a.cache.Get(sum); ok && now.Before(ans.expires) {
		apiKeyVerificationsTotal.WithLabelValues("cached").Inc()
		return ans.p, ans.err
	}
	p, err := a.ask(ctx, key)
	switch errs.KindOf(err) {
	case errs.Unavailable:
		apiKeyVerificationsTotal.WithLabelValues("unavailable").Inc()
		return nil, err
	case errs.TooManyRequests: // about the client, not the key: not cached
		apiKeyVerificationsTotal.WithLabelValues("throttled").Inc()
		return nil, err
	}
	expires := now.Add(a.opts.TTL)
	if p != nil && p.ExpiresAt.Before(expires) && !p.ExpiresAt.IsZero() {
		expires = p.ExpiresAt
	}
	a.cache.Add(sum, apiKeyAnswer{p: p, err: err, expires: expires})
	if err != nil {
		apiKeyVerificationsTotal.WithLabelValues("invalid").Inc()
		return nil, err
	}
	apiKeyVerificationsTotal.WithLabelValues("ok").Inc()
	return p, nil
}

// apiKeyResponse is the auth service's answer to POST /v1/auth/keys/verify.
type apiKeyResponse struct {
	Subject     string     `json:"subject"`
	KeyID       string     `json:"keyId"`
	Permissions []string   `json:"permissions"`
	Roles       []string   `json:"roles"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

// ask calls the endpoint. A 401 or 403 answer is a rejection; anything else
// that is not a well-formed 200 means the answer is unknown (Unavailable).
func (a *APIKeyVerifier) ask(ctx context.Context, key string) (*Principal, error) {
	unavailable := func(err error) (*Principal, error) {
		return nil, errs.Wrap(err, errs.Unavailable, CodeKeysUnavailable,
			"The credential cannot be checked right now. Try again later.")
	}
	body, err := json.Marshal(map[string]string{"key": key})
	if err != nil {
		return unavailable(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.opts.Endpoint, bytes.NewReader(body))
	if err != nil {
		return unavailable(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if ip, ok := ClientIPFrom(ctx); ok {
		req.Header.Set("X-Forwarded-For", ip.String()) // whom the auth service throttles for refused keys
	}
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		return unavailable(fmt.Errorf("verify api key: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return nil, fail(CodeTokenInvalid, fmt.Errorf("api key rejected: %w", httpx.ErrorFromResponse(resp)))
	case http.StatusTooManyRequests:
		return nil, &retryAfterError{error: errs.Wrap(httpx.ErrorFromResponse(resp), errs.TooManyRequests, CodeTooManyAttempts,
			"Too many credentials were refused for this client. Try again later."), after: resp.Header.Get("Retry-After")}
	default:
		return unavailable(fmt.Errorf("verify api key: %w", httpx.ErrorFromResponse(resp)))
	}
	var r apiKeyResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return unavailable(fmt.Errorf("verify api key: decode answer: %w", err))
	}
	if r.Subject == "" {
		return unavailable(errors.New("verify api key: answer without subject"))
	}
	p := &Principal{Kind: KindAPIKey, Subject: r.Subject, TokenID: r.KeyID,
		Permissions: r.Permissions, Roles: r.Roles}
	if r.ExpiresAt != nil {
		p.ExpiresAt = *r.ExpiresAt
		if !a.opts.Clock().Before(p.ExpiresAt) {
			return nil, fail(CodeTokenInvalid, fmt.Errorf("api key %s expired at %s", r.KeyID, p.ExpiresAt))
		}
	}
	return p, nil
}
