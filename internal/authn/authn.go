// Package authn verifies who is calling: the one token-verification package
// used by the gateway and by every bam service, so that no service has to
// trust an identity header that arrived over the network.
//
// A Verifier checks the auth service's access tokens (RFC 9068 JWTs signed
// with EdDSA or ES256) against keys from a KeySource (the auth service's
// JWKS, fetched over HTTP or in-process), caches what it verified until the
// token expires, and consults a DenyList that Follow keeps current from the
// auth service's revocation events. An APIKeyVerifier asks the auth service
// about bam_… API keys and caches the answers briefly. Middleware puts the
// resulting Principal into the request context; RequireAuth,
// RequirePermission and RequireRole guard handlers.
//
// Every failure is an *errs.Error of kind Unauthenticated with one of the
// Code* codes below; which check failed is only in the error's cause, for
// logs, never in what a client sees.
package authn

import (
	"github.com/bamhq/bam/internal/errs"
)

// Stable error codes. Clients see the code, not which check failed.
const (
	// CodeTokenMissing: no credential was sent.
	CodeTokenMissing = "auth.token_missing"
	// CodeTokenMalformed: the credential is not a well-formed token or key.
	CodeTokenMalformed = "auth.token_malformed"
	// CodeTokenExpired: the token was valid but has expired; refresh it.
	CodeTokenExpired = "auth.token_expired"
	// CodeTokenInvalid: signature, algorithm, key, issuer, audience, type
	// or timing is wrong, or the API key is unknown or revoked.
	CodeTokenInvalid = "auth.token_invalid"
	// CodeTokenRevoked: the token's session or subject has been revoked.
	CodeTokenRevoked = "auth.token_revoked"
	// CodeForbidden: the caller is known but lacks a permission or role.
	CodeForbidden = "auth.forbidden"
	// CodeKeysUnavailable: the API key could not be checked because the
	// auth service did not answer; retry later.
	CodeKeysUnavailable = "auth.keys_unavailable"
	// CodeTooManyAttempts: the auth service checks no more API keys for
	// this client for a while (too many were refused).
	CodeTooManyAttempts = "auth.too_many_attempts"
)

// Client-facing messages: one per code, whatever the cause.
var messages = map[string]string{
	CodeTokenMissing:   "Authentication is required.",
	CodeTokenMalformed: "The credential is malformed.",
	CodeTokenExpired:   "The access token has expired.",
	CodeTokenInvalid:   "The credential is invalid.",
	CodeTokenRevoked:   "The credential has been revoked.",
}

// fail returns an Unauthenticated error with code and its fixed message,
// keeping cause private.
func fail(code string, cause error) *errs.Error {
	return errs.Wrap(cause, errs.Unauthenticated, code, messages[code])
}
