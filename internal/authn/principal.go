package authn

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Kind says what sort of caller a Principal is.
type Kind string

// The kinds of caller.
const (
	// KindUser is a person signed in through the auth service.
	KindUser Kind = "user"
	// KindService is a service account (client-credentials token).
	KindService Kind = "service"
	// KindAPIKey is a caller that presented a bam_… API key.
	KindAPIKey Kind = "apikey"
)

// AdminPermission grants every permission.
const AdminPermission = "admin"

// Principal is a verified caller. Verifiers share one Principal between all
// requests that present the same token, so it must be treated as read-only.
type Principal struct {
	Kind Kind
	// Subject is the user id, service account id or API key owner (sub).
	Subject string
	// SessionID is the session the token belongs to (sid); empty for
	// service accounts and API keys.
	SessionID string
	// ClientID is the OAuth client the token was issued to, if any.
	ClientID      string
	Roles         []string
	Permissions   []string
	Scopes        []string
	Email         string
	EmailVerified bool
	// AAL is the authenticator assurance level, "aal1" or "aal2".
	AAL string
	// AMR lists the authentication methods used (e.g. "pwd", "otp").
	AMR []string
	// TokenID is the token's jti, or the API key's id.
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// HasRole reports whether p has role.
func (p *Principal) HasRole(role string) bool {
	return p != nil && slices.Contains(p.Roles, role)
}

// HasPermission reports whether p holds perm: exactly, through a pattern
// ("content.*" holds everything below content, "content.posts.*" everything
// below content.posts), or through the admin permission.
func (p *Principal) HasPermission(perm string) bool {
	if p == nil || perm == "" {
		return false
	}
	for _, held := range p.Permissions {
		if permits(held, perm) {
			return true
		}
	}
	return false
}

// HasScope reports whether the token's scope claim includes scope.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

// permits reports whether the held permission (or pattern) covers perm.
func permits(held, perm string) bool {
	switch {
	case held == AdminPermission || held == perm:
		return true
	case strings.HasSuffix(held, ".*"):
		prefix := held[:len(held)-1] // keep the dot: "content." does not cover "contents.x"
		return len(perm) > len(prefix) && strings.HasPrefix(perm, prefix)
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal Middleware stored in ctx; false when the
// request is anonymous.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
