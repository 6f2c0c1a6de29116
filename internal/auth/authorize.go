package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1).
//
// bam has no login page: the user signs in to bam first (password, magic
// link, social …), and the app's front-end then calls
// GET /v1/auth/authorize with the user's access token in the Authorization
// header. The answer is the usual 302 to the client's redirect_uri with
// code and state — or, for a front-end that cannot read a cross-origin
// redirect, 200 {"redirect_to": …} when it sends Accept: application/json.
// Because the user is proven by a bearer token, never by a cookie, no other
// site can make a user's browser authorize anything.

// authCodeTTL is how long an authorization code lives (RFC 6749 §4.1.2:
// at most ten minutes; one is plenty for a redirect).
const authCodeTTL = 60 * time.Second

// oauthScopes are the scopes the authorization endpoint grants.
var oauthScopes = []string{"openid", "email", "profile", "offline_access"}

// authorizedCode is what an authorization code row remembers.
type authorizedCode struct {
	ClientID     string   `json:"client_id"`
	RedirectURI  string   `json:"redirect_uri"`
	RedirectSent bool     `json:"redirect_sent"` // redirect_uri was in the request: the token request must repeat it
	Challenge    string   `json:"code_challenge,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`
	Scope        string   `json:"scope"`
	SessionID    string   `json:"sid"` // the user's session that authorized
	AuthTime     int64    `json:"auth_time"`
	AMR          []string `json:"amr"`
	AAL          string   `json:"aal"`
	Issued       string   `json:"issued_sid,omitempty"` // the session the code started; revoked on a replay
}

// authorizeError is an error reported to the client by redirect (RFC 6749
// §4.1.2.1), once the redirect URI is known to be the client's.
type authorizeError struct{ code, description string }

func (e *authorizeError) Error() string { return e.code + ": " + e.description }

// authorizeTarget validates client_id and redirect_uri. Its errors are
// answered to the user agent, never by redirect: an unchecked redirect
// would make bam an open redirector.
func (s *Service) authorizeTarget(ctx context.Context, q url.Values) (oauthClient, string, bool, error) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return oauthClient{}, "", false, errs.E(errs.Invalid, "auth.invalid_request", "%s is repeated", k)
		}
	}
	c, err := oauthClientByID(ctx, s.DB.SQL(), q.Get("client_id"))
	if errors.Is(err, errNoClient) || (err == nil && (c.Disabled || c.Kind != oauthAppKind)) {
		return oauthClient{}, "", false, errs.E(errs.Invalid, "auth.invalid_client", "unknown client_id")
	}
	if err != nil {
		return oauthClient{}, "", false, err
	}
	redirect, sent := q.Get("redirect_uri"), q.Has("redirect_uri")
	switch {
	case !sent && len(c.RedirectURIs) == 1:
		redirect = c.RedirectURIs[0]
	case !sent:
		return oauthClient{}, "", false, errs.E(errs.Invalid, "auth.invalid_request",
			"redirect_uri is required: the client has several")
	case !slices.Contains(c.RedirectURIs, redirect): // exact match (RFC 9700 §4.1.3)
		return oauthClient{}, "", false, errs.E(errs.Invalid, "auth.invalid_redirect_uri",
			"redirect_uri is not registered for this client")
	}
	return c, redirect, sent, nil
}

// Authorize issues an authorization code for the signed-in caller p. Its
// *authorizeError results go back to the client by redirect; others are
// the server's.
func (s *Service) Authorize(ctx context.Context, c oauthClient, redirect string, sent bool, q url.Values,
	p *authn.Principal) (string, error) {
	bad := func(code, desc string) (string, error) { return "", &authorizeError{code, desc} }
	for k, v := range q {
		if len(v) > 1 {
			return bad("invalid_request", k+" is repeated")
		}
	}
	if q.Get("response_type") != "code" {
		return bad("unsupported_response_type", "response_type must be code")
	}
	scope := strings.Fields(q.Get("scope"))
	if len(scope) == 0 {
		scope = []string{"openid"}
	}
	for _, sc := range scope {
		if !slices.Contains(oauthScopes, sc) {
			return bad("invalid_scope", "unknown scope "+sc)
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return bad("invalid_request", "code_challenge_method without code_challenge")
	case challenge != "" && method != "S256":
		return bad("invalid_request", "code_challenge_method must be S256; plain is not accepted")
	case challenge != "" && !isPKCEValue(challenge, 43, 43):
		return bad("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)")
	case challenge == "" && c.public():
		return bad("invalid_request", "public clients must use PKCE (code_challenge with S256)")
	}
	if len(q.Get("nonce")) > 512 || len(q.Get("state")) > 1024 {
		return bad("invalid_request", "nonce or state is too long")
	}
	if p == nil || p.Kind != authn.KindUser || p.SessionID == "" || firstParty(p) != nil {
		// An app's token is no sign-in to bam: it could get another app (or
		// itself) more scope than the user granted.
		return bad("login_required", "sign in to bam first and send the access token as a bearer token")
	}
	now := s.now()
	sess, err := sessionByID(ctx, s.DB.SQL(), p.SessionID)
	if err != nil || sess.UserID != p.Subject || sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return bad("login_required", "the session has ended")
	}
	u, err := userByID(ctx, s.DB.SQL(), p.Subject)
	if err != nil && !errors.Is(err, errUserNotFound) {
		return "", err
	}
	if err != nil || u.Disabled || (s.opts.RequireVerifiedEmail && !u.EmailVerified) {
		return bad("access_denied", "this account cannot authorize clients")
	}
	code := randomToken("")
	data := authorizedCode{ClientID: c.ID, RedirectURI: redirect, RedirectSent: sent, Challenge: challenge,
		Nonce: q.Get("nonce"), Scope: strings.Join(scope, " "), SessionID: sess.ID,
		AuthTime: sess.CreatedAt.Unix(), AMR: sess.AMR, AAL: sess.AAL}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertGrantRow(ctx, tx, hashToken(code), kindAuthorizationCode, u.ID, data, now,
			now.Add(authCodeTTL)); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, "oauth.authorized", c.ID, map[string]any{"scope": data.Scope})
	})
	return code, err
}

func (s *Service) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	c, redirect, sent, err := s.authorizeTarget(r.Context(), q)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, _ := authn.FromContext(r.Context())
	code, err := s.Authorize(r.Context(), c, redirect, sent, q, p)
	params := url.Values{"iss": {s.opts.Issuer}} // RFC 9207: which server answered
	if st := q.Get("state"); st != "" {
		params.Set("state", st)
	}
	var ae *authorizeError
	switch {
	case errors.As(err, &ae):
		params.Set("error", ae.code)
		params.Set("error_description", ae.description)
	case err != nil:
		httpx.WriteError(w, r, err)
		return
	default:
		params.Set("code", code)
	}
	target, err := withQuery(redirect, params)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if wantsJSON(r) {
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]string{"redirect_to": target})
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// withQuery adds params to the query of a registered redirect URI, keeping
// the query it already has (RFC 6749 §3.1.2).
func withQuery(raw string, params url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// wantsJSON reports whether the caller asked for a JSON answer instead of a
// redirect.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
