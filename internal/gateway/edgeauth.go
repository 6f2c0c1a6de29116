package gateway

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/bamhq/bam/internal/authn"
)

// EdgeAuth verifies credentials at the edge, so that an invalid or revoked
// token is refused before it costs an upstream anything, and so that rate
// limits can count per user and per API key. Services still verify for
// themselves: the gateway passes the Authorization header on as it came and
// never sends an identity header of its own.
type EdgeAuth struct {
	Verifier *authn.Verifier
	APIKeys  *authn.APIKeyVerifier // nil: API keys are refused as invalid
	DenyList *authn.DenyList       // the Verifier's; Follow keeps it current
}

// EdgeAuthOptions configures NewEdgeAuth.
type EdgeAuthOptions struct {
	// Issuer and Audience are what access tokens must carry (public_url
	// and auth.audience).
	Issuer, Audience string
	// Auth reaches the auth service: transport.InProcess(its handler) in one
	// process, its upstream pool when split. No network hop in one process.
	Auth http.RoundTripper
	// TokenLifetime bounds deny-list entries (auth.access_token_ttl).
	TokenLifetime time.Duration
}

// NewEdgeAuth builds the verifiers over the auth service's JWKS
// (/.well-known/jwks.json) and API key check (POST /v1/auth/keys/verify).
func NewEdgeAuth(o EdgeAuthOptions) (*EdgeAuth, error) {
	client := &http.Client{Transport: o.Auth, Timeout: 5 * time.Second}
	const base = "http://auth" // the transport picks the replica
	deny := authn.NewDenyList(authn.DenyListOptions{TokenLifetime: o.TokenLifetime})
	v, err := authn.NewVerifier(authn.Options{Issuer: o.Issuer, Audience: o.Audience,
		Keys: authn.NewHTTPKeySource(base+"/.well-known/jwks.json", client), DenyList: deny})
	if err != nil {
		return nil, err
	}
	keys, err := authn.NewAPIKeyVerifier(authn.APIKeyOptions{Endpoint: base + "/v1/auth/keys/verify", Client: client})
	if err != nil {
		return nil, err
	}
	return &EdgeAuth{Verifier: v, APIKeys: keys, DenyList: deny}, nil
}

// authenticate wraps next in the route's policy: AuthNone passes through;
// AuthOptional verifies a credential when one is sent (401 when invalid);
// AuthRequired also answers 401 to anonymous requests, and 403 to callers
// without one of Roles or all of Permissions.
func (g *Gateway) authenticate(r Route, trusted []netip.Prefix, next http.Handler) (http.Handler, error) {
	if r.Auth == AuthNone {
		return next, nil
	}
	a := g.opts.Auth
	if a == nil {
		if r.Auth == AuthRequired {
			return nil, routeError(r, "auth: required, but this gateway cannot verify tokens "+
				"(the auth service is neither in this process nor reachable through auth.url)")
		}
		return next, nil // optional: the upstream verifies for itself
	}
	h := next
	for i := len(r.Permissions) - 1; i >= 0; i-- {
		h = authn.RequirePermission(r.Permissions[i])(h)
	}
	if len(r.Roles) > 0 {
		h = authn.RequireRole(r.Roles...)(h)
	}
	if r.Auth == AuthRequired {
		h = authn.RequireAuth(h)
	}
	return authn.NameKeyClient(trusted, authn.Middleware(a.Verifier, a.APIKeys)(h)), nil
}
