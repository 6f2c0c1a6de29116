package auth

import (
	"context"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// JWKS returns the published verification keys: the active signing key
// and retired ones whose tokens may still be valid.
func (s *Service) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) { return s.Keys.JWKS(ctx) }

// Discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0,
// RFC 8414) served at /.well-known/openid-configuration.
func (s *Service) Discovery() map[string]any {
	iss := strings.TrimSuffix(s.opts.Issuer, "/")
	return map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"token_endpoint":                        iss + "/v1/auth/token",
		"userinfo_endpoint":                     iss + "/v1/auth/userinfo",
		"grant_types_supported":                 []string{"password", "refresh_token", "authorization_code"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"EdDSA", "ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "email", "email_verified",
			"roles", "permissions", "sid", "amr", "aal", "auth_time", "nonce", "azp", "at_hash"},

		// The OAuth2 provider side (oauth.go).
		"authorization_endpoint":           iss + "/v1/auth/authorize",
		"revocation_endpoint":              iss + "/v1/auth/revoke",
		"introspection_endpoint":           iss + "/v1/auth/introspect",
		"code_challenge_methods_supported": []string{"S256"},
		"scopes_supported":                 oauthScopes,
		// RFC 9207: authorization responses name their issuer.
		"authorization_response_iss_parameter_supported": true,
	}
}
