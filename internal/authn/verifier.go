package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// Verifier defaults.
const (
	DefaultLeeway    = 30 * time.Second
	DefaultCacheSize = 10_000
	// MaxTokenBytes bounds the tokens Verify looks at; bam's are < 2 KiB.
	MaxTokenBytes = 16 << 10
)

// Options configures NewVerifier.
type Options struct {
	// Issuer must equal the token's iss exactly, e.g. "https://api.example.com/v1/auth".
	Issuer string
	// Audience must be one of the token's aud values.
	Audience string
	// Keys supplies the issuer's public keys.
	Keys KeySource
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
	// CacheSize bounds the verified-token cache; 0 means
	// DefaultCacheSize, a negative value disables the cache.
	CacheSize int
	// DenyList, when set, is consulted on every Verify, cached or not.
	DenyList *DenyList
	// Clock replaces time.Now, for tests.
	Clock func() time.Time
}

// Verifier verifies access tokens. It is safe for concurrent use.
type Verifier struct {
	opts  Options
	cache *tokenCache // nil when disabled
}

// NewVerifier checks opts and returns a Verifier.
func NewVerifier(opts Options) (*Verifier, error) {
	switch {
	case opts.Issuer == "":
		return nil, errors.New("authn: verifier needs an issuer")
	case opts.Audience == "":
		return nil, errors.New("authn: verifier needs an audience")
	case opts.Keys == nil:
		return nil, errors.New("authn: verifier needs a key source")
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	opts.Leeway = max(opts.Leeway, 0)
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	v := &Verifier{opts: opts}
	if opts.CacheSize > 0 {
		c, err := newTokenCache(opts.CacheSize)
		if err != nil {
			return nil, fmt.Errorf("authn: cache: %w", err)
		}
		v.cache = c
	}
	return v, nil
}

// Verify checks token and returns its Principal, shared with every other
// caller that presents the same token: do not modify it. Errors are
// *errs.Error: Unauthenticated with CodeTokenMissing, CodeTokenMalformed,
// CodeTokenExpired, CodeTokenInvalid or CodeTokenRevoked, or Unavailable
// with CodeKeysUnavailable when no keys could be fetched at all.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, fail(CodeTokenMissing, nil)
	}
	if len(token) > MaxTokenBytes {
		verifyInvalid.Inc()
		return nil, fail(CodeTokenMalformed, errors.New("token too long"))
	}
	var key uint64
	if v.cache != nil {
		key = v.cache.key(token)
		if p, ok := v.cache.get(key, token); ok {
			if err := v.check(p); err != nil {
				return nil, err
			}
			verifyCached.Inc()
			return p, nil
		}
	}
	p, err := v.verify(ctx, token)
	if err != nil {
		switch errs.CodeOf(err) {
		case CodeTokenExpired:
			verifyExpired.Inc()
		case CodeKeysUnavailable:
			verifyUnavailable.Inc()
		default:
			verifyInvalid.Inc()
		}
		return nil, err
	}
	if v.opts.DenyList.Revoked(p) {
		verifyRevoked.Inc()
		return nil, fail(CodeTokenRevoked, fmt.Errorf("session %q of %q revoked", p.SessionID, p.Subject))
	}
	if v.cache != nil {
		v.cache.add(key, token, p)
	}
	verifyOK.Inc()
	return p, nil
}

// check re-checks a cached principal: it may have expired or been revoked
// since it was verified.
func (v *Verifier) check(p *Principal) error {
	if v.opts.Clock().After(p.ExpiresAt.Add(v.opts.Leeway)) {
		verifyExpired.Inc()
		return fail(CodeTokenExpired, fmt.Errorf("expired at %s", p.ExpiresAt))
	}
	if v.opts.DenyList.Revoked(p) {
		verifyRevoked.Inc()
		return fail(CodeTokenRevoked, fmt.Errorf("session %q of %q revoked", p.SessionID, p.Subject))
	}
	return nil
}

// verify does the full check of an uncached token.
func (v *Verifier) verify(ctx context.Context, token string) (*Principal, error) {
	tok, err := parseJWS(token)
	if err != nil {
		return nil, fail(CodeTokenMalformed, err)
	}
	if err := tok.checkHeader(); err != nil {
		return nil, fail(CodeTokenInvalid, err)
	}
	key, err := v.opts.Keys.Key(ctx, tok.header.Kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, fail(CodeTokenInvalid, err)
		}
		return nil, errs.Wrap(err, errs.Unavailable, CodeKeysUnavailable,
			"The credential cannot be checked right now. Try again later.")
	}
	if err := tok.verifySignature(key); err != nil {
		return nil, fail(CodeTokenInvalid, err)
	}
	c, err := tok.decodeClaims()
	if err != nil {
		return nil, fail(CodeTokenMalformed, err)
	}
	p, err := v.principal(c)
	if err != nil {
		return nil, err
	}
	p.TokenID = c.ID
	return p, nil
}

// principal checks the claims and builds the Principal.
func (v *Verifier) principal(c *claims) (*Principal, error) {
	invalid := func(format string, args ...any) (*Principal, error) {
		return nil, fail(CodeTokenInvalid, fmt.Errorf(format, args...))
	}
	switch {
	case c.Issuer != v.opts.Issuer:
		return invalid("iss %q, want %q", c.Issuer, v.opts.Issuer)
	case !c.Audience.contains(v.opts.Audience):
		return invalid("aud %q does not contain %q", c.Audience, v.opts.Audience)
	case c.Subject == "":
		return invalid("no sub")
	case c.Expiry == nil || c.IssuedAt == nil:
		return invalid("exp and iat are required")
	}
	exp, iat := c.Expiry.time(), c.IssuedAt.time()
	now, leeway := v.opts.Clock(), v.opts.Leeway
	if now.After(exp.Add(leeway)) {
		return nil, fail(CodeTokenExpired, fmt.Errorf("expired at %s", exp))
	}
	if c.NotBefore != nil && c.NotBefore.time().After(now.Add(leeway)) {
		return invalid("not valid before %s", c.NotBefore.time())
	}
	if iat.After(now.Add(leeway)) {
		return invalid("issued in the future, at %s", iat)
	}
	p := &Principal{
		Kind: Kind(c.Kind), Subject: c.Subject, SessionID: c.SessionID, ClientID: c.ClientID,
		Roles: c.Roles, Permissions: c.Permissions, Scopes: splitScope(c.Scope),
		Email: c.Email, EmailVerified: c.EmailVerified, AAL: c.AAL, AMR: c.AMR,
		IssuedAt: iat, ExpiresAt: exp,
	}
	switch p.Kind {
	case KindUser:
		if p.SessionID == "" {
			return invalid("user token without sid")
		}
	case KindService:
	default:
		return invalid("kind %q, want user or service", c.Kind)
	}
	return p, nil
}
