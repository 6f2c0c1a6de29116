package authn

import (
	"errors"
	"net/http"
	"strings"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Middleware authenticates requests that carry a credential:
// "Authorization: Bearer <jwt or bam_ key>" or "X-API-Key: bam_…". A valid
// one puts its Principal in the request context (FromContext); an invalid
// one is answered 401 with a problem and WWW-Authenticate: Bearer
// error="invalid_token" (RFC 6750 §3.1). A request without a credential, or
// with another scheme than Bearer, passes through anonymous: handlers
// decide, with RequireAuth and friends, whether that is enough.
//
// keys may be nil: API keys are then rejected as invalid.
func Middleware(v *Verifier, keys *APIKeyVerifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cred, err := Credential(r.Header.Get("Authorization"), r.Header.Get("X-API-Key"))
			if err == nil && cred == "" {
				next.ServeHTTP(w, r)
				return
			}
			var p *Principal
			if err == nil {
				switch {
				case !IsAPIKey(cred):
					p, err = v.Verify(r.Context(), cred)
				case keys != nil:
					p, err = keys.Verify(r.Context(), cred)
				default:
					err = fail(CodeTokenInvalid, errors.New("api keys are not accepted here"))
				}
			}
			if err != nil {
				if errs.KindOf(err) == errs.Unauthenticated {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				}
				var ra *retryAfterError
				if errors.As(err, &ra) && ra.after != "" {
					w.Header().Set("Retry-After", ra.after)
				}
				httpx.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// retryAfterError is the auth service's 429 with its Retry-After, passed
// on to the client whose keys were refused too often.
type retryAfterError struct {
	error
	after string
}

func (e *retryAfterError) Unwrap() error { return e.error }

// Credential extracts the bearer token or API key from a request's
// Authorization and X-API-Key headers, "" when there is none.
func Credential(authz, apiKey string) (string, error) {
	var bearer string
	if authz != "" {
		// Another scheme than Bearer is not ours to judge: ignored.
		scheme, rest, _ := strings.Cut(authz, " ")
		if strings.EqualFold(scheme, "Bearer") {
			if bearer = strings.TrimSpace(rest); bearer == "" {
				return "", fail(CodeTokenMalformed, errors.New("empty bearer token"))
			}
		}
	}
	switch {
	case bearer != "" && apiKey != "":
		// RFC 6750 §2: one method per request; two could disagree.
		return "", fail(CodeTokenMalformed, errors.New("both Authorization and X-API-Key sent"))
	case apiKey != "":
		if !IsAPIKey(apiKey) {
			return "", fail(CodeTokenMalformed, errors.New("X-API-Key is not a bam_ key"))
		}
		return apiKey, nil
	}
	return bearer, nil
}

// RequireAuth answers 401 to anonymous requests.
func RequireAuth(next http.Handler) http.Handler {
	return require(func(*Principal) bool { return true }, "", next)
}

// RequirePermission answers 401 to anonymous requests and 403 to callers
// without perm (see Principal.HasPermission).
func RequirePermission(perm string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return require(func(p *Principal) bool { return p.HasPermission(perm) },
			"This requires the permission "+perm+".", next)
	}
}

// RequireRole answers 401 to anonymous requests and 403 to callers with
// none of roles.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return require(func(p *Principal) bool { return p.HasAnyRole(roles) },
			"This requires the role "+strings.Join(roles, " or ")+".", next)
	}
}

// HasAnyRole reports whether p has one of roles.
func (p *Principal) HasAnyRole(roles []string) bool {
	for _, role := range roles {
		if p.HasRole(role) {
			return true
		}
	}
	return false
}

// Allowed reports whether p passes what RequireRole(roles...) and
// RequirePermission for each of perms check: one of roles (when there are
// any) and every permission.
func (p *Principal) Allowed(roles, perms []string) bool {
	if len(roles) > 0 && !p.HasAnyRole(roles) {
		return false
	}
	for _, perm := range perms {
		if !p.HasPermission(perm) {
			return false
		}
	}
	return true
}

func require(allowed func(*Principal) bool, denied string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpx.WriteError(w, r, fail(CodeTokenMissing, nil))
			return
		}
		if !allowed(p) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			httpx.WriteError(w, r, errs.E(errs.Forbidden, CodeForbidden, "%s", denied))
			return
		}
		next.ServeHTTP(w, r)
	})
}
