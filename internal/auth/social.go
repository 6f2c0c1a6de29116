package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// Social sign-in: users sign in with any OpenID Connect provider
// (authorization code flow with PKCE S256, state and nonce).
//
//	GET /v1/auth/oidc/{provider}/start?redirect_to=URL
//	    302 to the provider; a short-lived HttpOnly cookie binds the sign-in
//	    to this browser (login CSRF).
//	GET /v1/auth/oidc/{provider}/callback?code&state
//	    The provider sends the browser back here. bam exchanges the code,
//	    verifies the id_token (signature, iss, aud, exp, nonce), finds or
//	    creates the user and starts a session (amr "fed"). With redirect_to
//	    it answers 302 to redirect_to with the token response in the URL
//	    fragment (#access_token=…&refresh_token=…&token_type=Bearer&
//	    expires_in=…, or #error=…&error_description=…), which never reaches
//	    a server log; without it, the token response as JSON.
//
// redirect_to must be on SiteURL's origin or listed in RedirectURLs.
//
// Accounts: an identity seen before signs in to its user. A new identity
// whose provider says the email is verified is linked to the bam account
// with that email; if that account's own address was never verified,
// nobody proved it was theirs, so its password is removed and its sessions
// are revoked (a pre-registered account cannot be kept by a squatter).
// An unverified provider email that matches an account is refused; one
// that matches none creates a user.

// SocialProvider is an OpenID Connect provider users may sign in with.
// Its client must have {issuer}/v1/auth/oidc/{Name}/callback registered
// as a redirect URI.
type SocialProvider struct {
	Name         string // in URLs and in auth_identities.provider
	Issuer       string // discovery at Issuer/.well-known/openid-configuration
	ClientID     string
	ClientSecret string
	Scopes       []string // default: openid email profile
}

// socialProviders caches providers' discovery documents (and through them
// their key sets); a failed discovery is retried on the next sign-in.
type socialProviders struct {
	mu    sync.Mutex
	found map[string]*oidc.Provider
}

const (
	socialCookie   = "bam_oidc_state"
	socialStateTTL = 10 * time.Minute
)

// socialHTTP talks to providers: bounded, so a slow provider cannot hold
// requests forever.
var socialHTTP = &http.Client{Timeout: 10 * time.Second}

var (
	errSocialState = errs.E(errs.Invalid, "auth.oidc_state_invalid",
		"the sign-in state is missing, expired or already used; start again")
	errSocialUnknown  = errs.E(errs.NotFound, "auth.oidc_provider_not_found", "no such sign-in provider")
	errSocialIDToken  = errs.E(errs.Invalid, "auth.oidc_id_token_invalid", "the provider's id_token did not verify")
	errSocialDisabled = errs.E(errs.Forbidden, "auth.user_disabled", "this account is disabled")
	errSocialNoEmail  = errs.E(errs.Invalid, "auth.oidc_email_required", "the provider gave no usable email address")
	errSocialConflict = errs.E(errs.Conflict, "auth.identity_conflict",
		"an account with this email exists, and the provider has not verified the address: sign in to that account instead")
	errRedirectForbidden = errs.E(errs.Invalid, "auth.redirect_not_allowed", "redirect_to is not an allowed URL").
				WithField("redirect_to", "invalid", "an URL on the site's origin or in auth.oidc.redirect_urls")
)

// socialState is what an oidc_state row remembers. The PKCE verifier and
// the nonce are not stored: they are derived from the state with the
// service secret.
type socialState struct {
	Provider   string `json:"provider"`
	RedirectTo string `json:"redirect_to,omitempty"`
}

// socialConfig returns a provider's configuration, discovering it on first use.
func (s *Service) socialConfig(ctx context.Context, name string) (SocialProvider, *oidc.Provider, error) {
	var sp *SocialProvider
	for i := range s.opts.Social {
		if s.opts.Social[i].Name == name {
			sp = &s.opts.Social[i]
		}
	}
	if sp == nil {
		return SocialProvider{}, nil, errSocialUnknown
	}
	s.social.mu.Lock()
	defer s.social.mu.Unlock()
	if p := s.social.found[name]; p != nil {
		return *sp, p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, socialHTTP), sp.Issuer)
	if err != nil {
		return SocialProvider{}, nil, errs.Wrap(err, errs.Unavailable, "auth.oidc_provider_unavailable",
			"the sign-in provider could not be reached")
	}
	if s.social.found == nil {
		s.social.found = map[string]*oidc.Provider{}
	}
	s.social.found[name] = p
	return *sp, p, nil
}

func (s *Service) oauth2Config(sp SocialProvider, p *oidc.Provider) *oauth2.Config {
	scopes := sp.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	return &oauth2.Config{ClientID: sp.ClientID, ClientSecret: sp.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: strings.TrimSuffix(s.opts.Issuer, "/") + "/v1/auth/oidc/" + url.PathEscape(sp.Name) + "/callback",
		Scopes:      scopes}
}

// socialDerived derives a per-sign-in secret (the PKCE verifier, the
// nonce) from the state.
func (s *Service) socialDerived(label, state string) string {
	key, _ := hkdf.Key(sha256.New, s.opts.Secret, nil, "bam auth oidc sign-in", 32)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(label + "\x00" + state))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) // 43 characters: a valid PKCE verifier
}

// StartSocial begins a sign-in with provider: it records the state and
// returns it with the provider's authorization URL. Each start counts
// against the caller's IP (it stores a state), and a completed sign-in
// forgives them (handleSocialCallback): a browser that keeps starting
// sign-ins it never completes is slowed down.
func (s *Service) StartSocial(ctx context.Context, provider, redirectTo string) (state, authURL string, err error) {
	if err := spend(ctx, s.perIP, throttle.IPKey(throttle.OIDCStart, clientFrom(ctx).IP)); err != nil {
		return "", "", err
	}
	if redirectTo, err = s.checkRedirectTo(redirectTo); err != nil {
		return "", "", err
	}
	sp, p, err := s.socialConfig(ctx, provider)
	if err != nil {
		return "", "", err
	}
	state, now := randomToken(""), s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		return insertGrantRow(ctx, tx, hashToken(state), kindOIDCState, "",
			socialState{Provider: provider, RedirectTo: redirectTo}, now, now.Add(socialStateTTL))
	})
	if err != nil {
		return "", "", err
	}
	authURL = s.oauth2Config(sp, p).AuthCodeURL(state,
		oauth2.S256ChallengeOption(s.socialDerived("pkce", state)), oidc.Nonce(s.socialDerived("nonce", state)))
	return state, authURL, nil
}

func (s *Service) handleSocialStart(w http.ResponseWriter, r *http.Request) {
	state, authURL, err := s.StartSocial(r.Context(), r.PathValue("provider"), r.URL.Query().Get("redirect_to"))
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: socialCookie, Value: state, Path: "/v1/auth/oidc/",
		MaxAge: int(socialStateTTL.Seconds()), HttpOnly: true, Secure: strings.HasPrefix(s.opts.SiteURL, "https:"),
		SameSite: http.SameSiteLaxMode}) // Lax: sent on the provider's top-level redirect back
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// takeSocialState checks that the state came back to the browser that
// started the sign-in, and spends it.
func (s *Service) takeSocialState(ctx context.Context, provider, state, cookie string) (socialState, error) {
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
		return socialState{}, errSocialState
	}
	var st socialState
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		now, hash := s.now(), hashToken(state)
		row, err := grantRowByHash(ctx, tx, hash, kindOIDCState)
		if errors.Is(err, errNoGrantRow) {
			return errSocialState
		}
		if err != nil {
			return err
		}
		first, err := spendGrantRow(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(row.Data, &st); err != nil {
			return err
		}
		if !first || !now.Before(row.ExpiresAt) || st.Provider != provider {
			return errSocialState
		}
		return nil
	})
	return st, err
}

// FinishSocial completes a sign-in: it exchanges the code, verifies the
// id_token and its nonce, and signs the user in.
func (s *Service) FinishSocial(ctx context.Context, provider, state string, q url.Values) (TokenResponse, error) {
	if e := q.Get("error"); e != "" {
		return TokenResponse{}, errs.E(errs.Forbidden, "auth.oidc_denied", "the provider refused the sign-in: %.64s", e)
	}
	sp, p, err := s.socialConfig(ctx, provider)
	if err != nil {
		return TokenResponse{}, err
	}
	hctx := oidc.ClientContext(ctx, socialHTTP) // also oauth2.HTTPClient's key
	tok, err := s.oauth2Config(sp, p).Exchange(hctx, q.Get("code"), oauth2.VerifierOption(s.socialDerived("pkce", state)))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return TokenResponse{}, errs.Wrap(err, errs.Invalid, "auth.oidc_exchange_failed", "the provider did not accept the code")
		}
		return TokenResponse{}, errs.Wrap(err, errs.Unavailable, "auth.oidc_provider_unavailable",
			"the sign-in provider could not be reached")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: sp.ClientID, Now: s.opts.Clock}).Verify(hctx, raw)
	if err != nil {
		return TokenResponse{}, errs.Wrap(err, errs.Invalid, errSocialIDToken.Code, errSocialIDToken.Message)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(s.socialDerived("nonce", state))) != 1 {
		return TokenResponse{}, errs.E(errs.Invalid, errSocialIDToken.Code, "the id_token's nonce does not match")
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // some providers send "true"
	}
	if err := idt.Claims(&claims); err != nil {
		return TokenResponse{}, errs.Wrap(err, errs.Invalid, errSocialIDToken.Code, errSocialIDToken.Message)
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	u, err := s.socialUser(ctx, provider, idt.Subject, claims.Email, verified)
	if err != nil {
		return TokenResponse{}, err
	}
	if s.opts.RequireVerifiedEmail && !u.EmailVerified {
		return TokenResponse{}, errEmailNotVerified
	}
	amr := []string{AMRFederate}
	if u.MFAEnabled {
		return s.mfaChallenge(ctx, u, amr)
	}
	var resp TokenResponse
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		resp, err = s.startSession(ctx, tx, u, amr, AAL1)
		return err
	})
	return resp, err
}

// socialUser finds, links or creates the user of an external identity
// (the rules are at the top of this file).
func (s *Service) socialUser(ctx context.Context, provider, subject, rawEmail string, verified bool) (User, error) {
	var u User
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		now := s.now()
		id, err := identityUser(ctx, tx, provider, subject)
		if err == nil {
			if u, err = userByID(ctx, tx, id); err == nil && u.Disabled {
				return errSocialDisabled
			}
			if err == nil && verified && !u.EmailVerified && u.Email == normalizeEmail(rawEmail) {
				// The provider vouches now for the address it gave unvouched
				// when it made this account.
				u, err = s.emailVerified(ctx, tx, u.ID, map[string]any{"provider": provider})
			}
			return err
		}
		if !errors.Is(err, errUserNotFound) {
			return err
		}
		email, err := checkEmail(rawEmail)
		if err != nil {
			return errSocialNoEmail
		}
		u, err = userByEmail(ctx, tx, email)
		switch {
		case errors.Is(err, errUserNotFound):
			u = User{ID: newID(), Email: email, EmailVerified: verified, Data: json.RawMessage(`{}`),
				AppData: json.RawMessage(`{}`), Roles: []string{}, CreatedAt: now, UpdatedAt: now}
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, u.ID, "user.created", u.ID, map[string]any{"method": "oidc", "provider": provider}); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, EventUserCreated, u.ID, userEvent(u)); err != nil {
				return err
			}
		case err != nil:
			return err
		case !verified:
			return errSocialConflict
		case u.Disabled:
			return errSocialDisabled
		case !u.EmailVerified:
			if u, err = s.claimAccount(ctx, tx, u, provider, now); err != nil {
				return err
			}
		}
		if err := insertIdentity(ctx, tx, provider, subject, u.ID, email, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, "identity.linked", u.ID, map[string]any{"provider": provider})
	})
	return u, err
}

func (s *Service) handleSocialCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, &http.Cookie{Name: socialCookie, Path: "/v1/auth/oidc/", MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(s.opts.SiteURL, "https:"), SameSite: http.SameSiteLaxMode})
	provider, q := r.PathValue("provider"), r.URL.Query()
	cookie := ""
	if c, err := r.Cookie(socialCookie); err == nil {
		cookie = c.Value
	}
	st, err := s.takeSocialState(r.Context(), provider, q.Get("state"), cookie)
	if err != nil {
		httpx.WriteError(w, r, err) // no trusted place to send the browser back to
		return
	}
	resp, err := s.FinishSocial(r.Context(), provider, q.Get("state"), q)
	if err == nil {
		if err := s.perIP.Reset(r.Context(), throttle.IPKey(throttle.OIDCStart, clientFrom(r.Context()).IP)); err != nil {
			s.Log.WarnContext(r.Context(), "auth: social sign-in starts not forgiven", "err", err)
		}
	}
	if err != nil && httpx.Status(errs.KindOf(err)) >= 500 {
		s.Log.ErrorContext(r.Context(), "auth: social sign-in failed", "provider", provider, "err", err)
	} else if err != nil {
		s.Log.InfoContext(r.Context(), "auth: social sign-in refused", "provider", provider, "err", err)
	}
	if st.RedirectTo == "" {
		if err != nil {
			httpx.WriteProblem(w, httpx.ProblemOf(r, err)) // logged above
			return
		}
		_ = httpx.WriteJSON(w, http.StatusOK, resp)
		return
	}
	frag := url.Values{}
	if err != nil {
		p := httpx.ProblemOf(r, err) // internal errors shown generically (logged above)
		frag.Set("error", p.Code)
		frag.Set("error_description", p.Detail)
	} else {
		frag = fragmentOf(resp)
	}
	http.Redirect(w, r, st.RedirectTo+"#"+frag.Encode(), http.StatusFound)
}

// fragmentOf flattens a token response's scalar members into URL fragment
// parameters (the user object stays out: GET /v1/auth/user has it).
func fragmentOf(resp TokenResponse) url.Values {
	raw, _ := json.Marshal(resp)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	v := url.Values{}
	for k, x := range m {
		switch x := x.(type) {
		case string:
			v.Set(k, x)
		case float64:
			v.Set(k, fmt.Sprint(x))
		case bool:
			v.Set(k, fmt.Sprint(x))
		}
	}
	return v
}

// checkRedirectTo resolves redirect_to against SiteURL and allows it only
// on SiteURL's origin, on the origin of an origin-only RedirectURLs entry,
// or when it starts with another RedirectURLs entry. A path a browser would
// read otherwise than as written is refused: dot segments, and escapes
// that are not the plain encoding (an encoded dot or slash), which Go
// decodes before the prefix is compared but a browser resolves after.
func (s *Service) checkRedirectTo(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	site, err := url.Parse(s.opts.SiteURL)
	if err != nil {
		return "", err
	}
	u, err := site.Parse(raw)
	if err != nil || u.Fragment != "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") ||
		u.RawPath != "" || slices.ContainsFunc(strings.Split(u.Path, "/"), func(seg string) bool { return seg == "." || seg == ".." }) {
		return "", errRedirectForbidden
	}
	if sameOrigin(u, site) {
		return u.String(), nil
	}
	for _, allowed := range s.opts.RedirectURLs {
		a, err := url.Parse(allowed)
		if err != nil || a.Host == "" {
			continue
		}
		if (a.Path == "" || a.Path == "/") && sameOrigin(u, a) {
			return u.String(), nil
		}
		if sameOrigin(u, a) && strings.HasPrefix(u.Path, a.Path) &&
			(strings.HasSuffix(a.Path, "/") || len(u.Path) == len(a.Path) || u.Path[len(a.Path)] == '/') {
			return u.String(), nil
		}
	}
	return "", errRedirectForbidden
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// socialFromConfig is the provider of auth.oidc, if one is configured.
func socialFromConfig(c config.OIDC) []SocialProvider {
	if c.Name == "" {
		return nil
	}
	return []SocialProvider{{Name: c.Name, Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Scopes: c.Scopes}}
}
