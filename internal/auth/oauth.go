package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// oauthRoutes registers the OAuth2/OIDC provider side (authorize,
// code grant, userinfo, revoke, introspect) and social sign-in.
//
// The code grant itself is a case of the token endpoint (http.go calls
// ExchangeCode); apps are auth_clients rows of kind "app" with exact
// redirect URIs, a secret (confidential) or none (public, PKCE required).
func (s *Service) oauthRoutes(r router) {
	r.public("GET /v1/auth/authorize", s.handleAuthorize)
	r.authed("GET /v1/auth/userinfo", s.handleUserinfo)
	r.authed("POST /v1/auth/userinfo", s.handleUserinfo)
	r.public("POST /v1/auth/revoke", s.handleRevoke)
	r.public("POST /v1/auth/introspect", s.handleIntrospect)
	r.public("GET /v1/auth/oidc/{provider}/start", s.handleSocialStart)
	r.public("GET /v1/auth/oidc/{provider}/callback", s.handleSocialCallback)
	s.appRoutes(r)
}

// authenticateClient checks a client's credentials: a confidential client
// must present its secret; a public one (allowed only where publicOK) must
// present none. Every failure is the same invalid_client. (Client
// secrets carry 256 random bits: there is nothing to throttle.)
func (s *Service) authenticateClient(ctx context.Context, cc clientCredentials, publicOK bool) (oauthClient, error) {
	if cc.ID == "" {
		return oauthClient{}, errInvalidClient
	}
	c, err := oauthClientByID(ctx, s.DB.SQL(), cc.ID)
	if errors.Is(err, errNoClient) {
		return oauthClient{}, errInvalidClient
	}
	if err != nil {
		return oauthClient{}, err
	}
	ok := c.secretMatches(cc.Secret)
	if c.public() {
		ok = publicOK && cc.Secret == ""
	}
	if !ok || c.Disabled {
		return oauthClient{}, errInvalidClient
	}
	return c, nil
}

// formClient reads a client's credentials from HTTP Basic or the form.
func formClient(r *http.Request, form url.Values) (clientCredentials, error) {
	return clientCredentialsOf(r, tokenRequest{ClientID: form.Get("client_id"), ClientSecret: form.Get("client_secret")})
}
