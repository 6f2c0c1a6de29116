package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/bamhq/bam/internal/auth"
)

// noFollow is a client that hands redirects back instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// registerApp stores an app client (kind "app"); an empty secret makes it
// public. Secrets are stored as SHA-256 hex, as the service stores them.
func (h *harness) registerApp(id, secret string, redirects ...string) {
	h.t.Helper()
	uris, _ := json.Marshal(redirects)
	var hash any
	if secret != "" {
		sum := sha256.Sum256([]byte(secret))
		hash = hex.EncodeToString(sum[:])
	}
	if _, err := h.db.SQL().ExecContext(context.Background(), `INSERT INTO auth_clients
		(id, name, secret_hash, kind, redirect_uris, created_at) VALUES ($1, $1, $2, 'app', $3, $4)`,
		id, hash, string(uris), time.Now().UTC()); err != nil {
		h.t.Fatal(err)
	}
}

// redirect is a 3xx answer: its Location, and the query and fragment of it.
type redirect struct {
	Status   int
	Location *url.URL
	Query    url.Values
	Fragment url.Values
	Body     string
}

// get sends GET url with an optional bearer token through c (noFollow when nil).
func get(t *testing.T, c *http.Client, rawURL, bearer string) redirect {
	t.Helper()
	if c == nil {
		c = noFollow
	}
	req, _ := http.NewRequest("GET", rawURL, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := redirect{Status: resp.StatusCode, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		if out.Location, err = url.Parse(loc); err != nil {
			t.Fatal(err)
		}
		out.Query = out.Location.Query()
		out.Fragment, _ = url.ParseQuery(out.Location.Fragment)
	}
	return out
}

// app is a relying party of harness h, driven with x/oauth2 and go-oidc.
type app struct {
	provider *oidc.Provider
	conf     oauth2.Config
}

func newApp(t *testing.T, h *harness, id, secret, redirectURI string) app {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), h.URL) // discovery, issuer checked
	if err != nil {
		t.Fatal(err)
	}
	return app{provider: p, conf: oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID, "email", "offline_access"}}}
}

// authorize runs the authorization request for a user's bam token and
// returns the code, checking state and iss.
func (a app) authorize(t *testing.T, h *harness, bearer, verifier, nonce string) string {
	t.Helper()
	r := get(t, nil, a.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), bearer)
	if r.Status != 302 || r.Query.Get("code") == "" || r.Query.Get("state") != "st-1" || r.Query.Get("iss") != h.URL ||
		!strings.HasPrefix(r.Location.String(), a.conf.RedirectURL) {
		t.Fatalf("authorize: %d %v %s", r.Status, r.Location, r.Body)
	}
	return r.Query.Get("code")
}

// TestAuthorizationCodeVerifiedByGoOIDC drives the code flow with PKCE as a
// third-party app would — go-oidc discovery, x/oauth2 exchange — and has
// go-oidc verify the id_token and access token bam issued, across a key
// rotation.
func TestAuthorizationCodeVerifiedByGoOIDC(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.signUp("ada@example.com", pw).str("id")
		bamToken := h.signIn("ada@example.com", pw).expect(t, 200, "").str("access_token")
		h.registerApp("spa", "", "https://app.example/cb")
		a := newApp(t, h, "spa", "", "https://app.example/cb")
		a.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client sends only client_id

		flow := func() (*oauth2.Token, *oidc.IDToken) {
			verifier := oauth2.GenerateVerifier()
			code := a.authorize(t, h, bamToken, verifier, "n-0S6_WzA2Mj")
			tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := a.provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("id_token: %v", err)
			}
			if idt.Subject != uid || idt.Nonce != "n-0S6_WzA2Mj" || idt.Issuer != h.URL {
				t.Fatalf("id_token claims: sub %s nonce %s iss %s", idt.Subject, idt.Nonce, idt.Issuer)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			if _, err := a.provider.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(ctx, tok.AccessToken); err != nil {
				t.Fatalf("access token: %v", err)
			}
			return tok, idt
		}
		tok, idt := flow()
		var claims struct {
			Email    string   `json:"email"`
			AZP      string   `json:"azp"`
			AMR      []string `json:"amr"`
			AuthTime int64    `json:"auth_time"`
		}
		if err := idt.Claims(&claims); err != nil || claims.Email != "ada@example.com" || claims.AZP != "spa" ||
			len(claims.AMR) != 1 || claims.AMR[0] != "pwd" || claims.AuthTime == 0 {
			t.Fatalf("id_token claims %+v (%v)", claims, err)
		}
		if c := jwtClaims(t, tok.AccessToken); c["client_id"] != "spa" || c["sub"] != uid {
			t.Fatalf("access token claims %v", c)
		}
		// The userinfo endpoint answers the app's token; bam's own account
		// API does not.
		h.call("GET", "/v1/auth/user", nil, tok.AccessToken).expect(t, 403, "auth.client_token_forbidden")
		info, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != uid || info.Email != "ada@example.com" {
			t.Fatalf("userinfo %+v %v", info, err)
		}
		// The refresh token is a bam refresh token, bound to the app: x/oauth2
		// refreshes it sending client_id (RFC 6749 §6).
		h.refresh(tok.RefreshToken).expect(t, 401, "auth.invalid_client")
		refreshed, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if c := jwtClaims(t, refreshed.AccessToken); c["client_id"] != "spa" {
			t.Fatalf("refreshed access token claims %v", c)
		}

		// After a rotation a new token verifies, and so does the old one.
		old := tok.Extra("id_token").(string)
		if _, err := h.svc.Keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		tok2, _ := flow()
		if kidOf(t, old) == kidOf(t, tok2.Extra("id_token").(string)) {
			t.Fatal("the id_token after rotation has the old kid")
		}
		if _, err := a.provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, old); err != nil {
			t.Fatalf("pre-rotation id_token no longer verifies: %v", err)
		}
	})
}

// kidOf reads a JWT's kid header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	_ = json.Unmarshal(raw, &h)
	return h.Kid
}

// TestAuthorizeErrors: client and redirect URI problems are answered to
// the caller and never redirected; the rest go back to the client.
func TestAuthorizeErrors(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("ada@example.com", pw)
		bamToken := h.signIn("ada@example.com", pw).expect(t, 200, "").str("access_token")
		h.registerApp("spa", "", "https://app.example/cb")
		h.registerApp("web", "s3cret", "https://web.example/cb", "https://web.example/other")
		challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
		base := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {"https://app.example/cb"},
			"scope": {"openid"}, "state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		with := func(kv ...string) url.Values {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == "-" {
					q.Del(kv[i])
				} else {
					q.Set(kv[i], kv[i+1])
				}
			}
			return q
		}
		for _, tc := range []struct {
			name   string
			q      url.Values
			bearer string
			status int    // 302: by redirect with error; else the status, no Location
			want   string // the error (302) or problem code
		}{
			{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/cb"), bamToken, 400, "auth.invalid_redirect_uri"},
			{"redirect_uri prefix is not a match", with("redirect_uri", "https://app.example/cb/x"), bamToken, 400, "auth.invalid_redirect_uri"},
			{"unknown client", with("client_id", "nope"), bamToken, 400, "auth.invalid_client"},
			{"several URIs, none given", with("client_id", "web", "redirect_uri", "-"), bamToken, 400, "auth.invalid_request"},
			{"no bearer token", base, "", 302, "login_required"},
			{"wrong response_type", with("response_type", "token"), bamToken, 302, "unsupported_response_type"},
			{"unknown scope", with("scope", "openid admin"), bamToken, 302, "invalid_scope"},
			{"public client without PKCE", with("code_challenge", "-", "code_challenge_method", "-"), bamToken, 302, "invalid_request"},
			{"plain PKCE", with("code_challenge_method", "plain"), bamToken, 302, "invalid_request"},
			{"PKCE method defaulting to plain", with("code_challenge_method", "-"), bamToken, 302, "invalid_request"},
			{"malformed challenge", with("code_challenge", "short"), bamToken, 302, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := get(t, nil, h.URL+"/v1/auth/authorize?"+tc.q.Encode(), tc.bearer)
				if tc.status != 302 {
					var p struct{ Code string }
					_ = json.Unmarshal([]byte(r.Body), &p)
					if r.Status != tc.status || r.Location != nil || p.Code != tc.want {
						t.Fatalf("got %d %v %s; want %d %s and no redirect", r.Status, r.Location, r.Body, tc.status, tc.want)
					}
					return
				}
				if r.Status != 302 || r.Query.Get("error") != tc.want || r.Query.Get("state") != "xyz" ||
					r.Query.Get("code") != "" || !strings.HasPrefix(r.Location.String(), "https://app.example/cb?") {
					t.Fatalf("got %d %v; want a redirect with error=%s", r.Status, r.Location, tc.want)
				}
			})
		}
		// A confidential client may go without PKCE; its single URI may be left out.
		r := get(t, nil, h.URL+"/v1/auth/authorize?"+with("client_id", "web", "redirect_uri", "https://web.example/other",
			"code_challenge", "-", "code_challenge_method", "-").Encode(), bamToken)
		if r.Status != 302 || r.Query.Get("code") == "" {
			t.Fatalf("confidential client: %d %v", r.Status, r.Location)
		}
		// JSON for front-ends.
		req, _ := http.NewRequest("GET", h.URL+"/v1/auth/authorize?"+base.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+bamToken)
		req.Header.Set("Accept", "application/json")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			RedirectTo string `json:"redirect_to"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(body.RedirectTo, "https://app.example/cb?") ||
			!strings.Contains(body.RedirectTo, "code=") {
			t.Fatalf("JSON answer: %d %+v", resp.StatusCode, body)
		}
	})
}

// exchange posts an authorization_code token request.
func (h *harness) exchange(form url.Values, basicID, basicSecret string) response {
	h.t.Helper()
	form.Set("grant_type", "authorization_code")
	req, _ := http.NewRequest("POST", h.URL+"/v1/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return h.send(req)
}

// send sends req and decodes the JSON answer.
func (h *harness) send(req *http.Request) response {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// TestCodeGrantErrors: the PKCE verifier, redirect URI, client and code
// must all match; a code works once, and a replay revokes what it issued.
func TestCodeGrantErrors(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("ada@example.com", pw)
		bamToken := h.signIn("ada@example.com", pw).expect(t, 200, "").str("access_token")
		h.registerApp("spa", "", "https://app.example/cb")
		h.registerApp("other", "", "https://app.example/cb")
		h.registerApp("web", "s3cret", "https://web.example/cb")
		spa := newApp(t, h, "spa", "", "https://app.example/cb")
		verifier := oauth2.GenerateVerifier()
		newCode := func() string { return spa.authorize(t, h, bamToken, verifier, "") }
		good := func(code string) url.Values {
			return url.Values{"code": {code}, "redirect_uri": {"https://app.example/cb"}, "client_id": {"spa"},
				"code_verifier": {verifier}}
		}
		set := func(v url.Values, k, x string) url.Values { v.Set(k, x); return v }

		for _, tc := range []struct {
			name string
			form func(code string) url.Values
			code string
		}{
			{"wrong verifier", func(c string) url.Values { return set(good(c), "code_verifier", oauth2.GenerateVerifier()) }, "auth.auth_code_invalid"},
			{"no verifier", func(c string) url.Values { return set(good(c), "code_verifier", "") }, "auth.auth_code_invalid"},
			{"wrong redirect_uri", func(c string) url.Values { return set(good(c), "redirect_uri", "https://app.example/x") }, "auth.auth_code_invalid"},
			{"no redirect_uri", func(c string) url.Values { return set(good(c), "redirect_uri", "") }, "auth.auth_code_invalid"},
			{"another client", func(c string) url.Values { return set(good(c), "client_id", "other") }, "auth.auth_code_invalid"},
			{"unknown code", func(string) url.Values { return good("nope") }, "auth.auth_code_invalid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := newCode()
				r := h.exchange(tc.form(code), "", "").expect(t, 400, tc.code)
				if r.str("error") != "invalid_grant" {
					t.Fatalf("error = %s", r.Raw)
				}
				if tc.name != "unknown code" { // a failed attempt spends the code
					h.exchange(good(code), "", "").expect(t, 400, "")
				}
			})
		}

		t.Run("expired", func(t *testing.T) {
			code := newCode()
			h.clock.Advance(61 * time.Second)
			h.exchange(good(code), "", "").expect(t, 400, "auth.auth_code_invalid")
		})

		t.Run("reuse revokes", func(t *testing.T) {
			code := newCode()
			first := h.exchange(good(code), "", "").expect(t, 200, "")
			h.call("GET", "/v1/auth/userinfo", nil, first.str("access_token")).expect(t, 200, "")
			h.exchange(good(code), "", "").expect(t, 400, "auth.auth_code_reused")
			h.call("GET", "/v1/auth/userinfo", nil, first.str("access_token")).expect(t, 401, "auth.token_revoked")
			h.refresh(first.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
			sid, _ := jwtClaims(t, first.str("access_token"))["sid"].(string)
			h.awaitEvent(auth.EventSessionRevoked, sid)
			// The user's own session is untouched.
			h.call("GET", "/v1/auth/user", nil, bamToken).expect(t, 200, "")
		})

		t.Run("confidential client", func(t *testing.T) {
			web := newApp(t, h, "web", "s3cret", "https://web.example/cb")
			r := get(t, nil, web.conf.AuthCodeURL("s"), bamToken) // no PKCE
			code := r.Query.Get("code")
			form := url.Values{"code": {code}, "redirect_uri": {"https://web.example/cb"}}
			h.exchange(form, "web", "wrong").expect(t, 401, "auth.invalid_client")
			h.exchange(url.Values{"code": {code}, "redirect_uri": {"https://web.example/cb"}, "client_id": {"web"}}, "", "").
				expect(t, 401, "auth.invalid_client") // no secret
			// Failed client authentication does not spend the code.
			tok, err := web.conf.Exchange(context.Background(), code) // client_secret_basic
			if err != nil {
				t.Fatal(err)
			}
			if tok.Extra("id_token") == nil || tok.Extra("scope") != "openid email offline_access" {
				t.Fatalf("token response %+v", tok)
			}
		})
	})
}

// TestIntrospectAndRevoke: RFC 7662 for authenticated callers, RFC 7009
// for anyone holding a token.
func TestIntrospectAndRevoke(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.registerApp("rs", "rs-secret", "https://rs.example/cb")
		h.registerApp("spa", "", "https://app.example/cb")
		uid := h.signUp("ada@example.com", pw).str("id")
		s1 := h.signIn("ada@example.com", pw).expect(t, 200, "")
		introspect := func(token, id, secret, bearer string) response {
			req, _ := http.NewRequest("POST", h.URL+"/v1/auth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if id != "" {
				req.SetBasicAuth(id, secret)
			}
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			return h.send(req)
		}
		active := func(r response) bool { return r.expect(t, 200, "").Body["active"] == true }

		// Who may ask.
		introspect(s1.str("access_token"), "", "", "").expect(t, 401, "auth.invalid_client")
		introspect(s1.str("access_token"), "rs", "wrong", "").expect(t, 401, "auth.invalid_client")
		introspect(s1.str("access_token"), "spa", "", "").expect(t, 401, "auth.invalid_client")                  // public clients cannot
		introspect(s1.str("access_token"), "", "", s1.str("access_token")).expect(t, 401, "auth.invalid_client") // not admin
		if !active(introspect(s1.str("access_token"), "", "", h.adminToken())) {
			t.Fatal("an admin cannot introspect")
		}

		r := introspect(s1.str("access_token"), "rs", "rs-secret", "")
		sid, _ := jwtClaims(t, s1.str("access_token"))["sid"].(string)
		if !active(r) || r.str("sub") != uid || r.str("sid") != sid || r.str("token_type") != "Bearer" ||
			r.Body["username"] != nil || r.Body["exp"] == nil || r.str("iss") != h.URL {
			t.Fatalf("introspection by a resource server = %s (the email only for tokens issued to it)", r.Raw)
		}
		if r := introspect(s1.str("access_token"), "", "", h.adminToken()); r.str("username") != "ada@example.com" {
			t.Fatalf("introspection by an admin = %s", r.Raw)
		}
		r = introspect(s1.str("refresh_token"), "rs", "rs-secret", "")
		if !active(r) || r.str("token_type") != "refresh_token" || r.str("sub") != uid {
			t.Fatalf("refresh introspection = %s", r.Raw)
		}
		for _, tok := range []string{"garbage", "bamr_garbage", s1.str("access_token") + "x"} {
			if r := introspect(tok, "rs", "rs-secret", ""); active(r) || len(r.Body) != 1 {
				t.Fatalf("%q is active: %s", tok, r.Raw)
			}
		}

		revoke := func(form url.Values) response {
			req, _ := http.NewRequest("POST", h.URL+"/v1/auth/revoke", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return h.send(req)
		}
		revoke(url.Values{}).expect(t, 400, "auth.invalid_request")
		revoke(url.Values{"token": {"garbage"}}).expect(t, 200, "")
		revoke(url.Values{"token": {"x"}, "client_id": {"rs"}, "client_secret": {"wrong"}}).expect(t, 401, "auth.invalid_client")

		// Revoking the refresh token ends its session: both tokens go inactive.
		revoke(url.Values{"token": {s1.str("refresh_token")}, "token_type_hint": {"refresh_token"}}).expect(t, 200, "")
		h.awaitEvent(auth.EventSessionRevoked, sid)
		if active(introspect(s1.str("refresh_token"), "rs", "rs-secret", "")) ||
			active(introspect(s1.str("access_token"), "rs", "rs-secret", "")) {
			t.Fatal("tokens of a revoked session are active")
		}
		h.call("GET", "/v1/auth/user", nil, s1.str("access_token")).expect(t, 401, "auth.token_revoked")
		revoke(url.Values{"token": {s1.str("refresh_token")}}).expect(t, 200, "") // again: still 200

		// Revoking an access token ends its session too. A client that
		// authenticates revokes only tokens issued to it (RFC 7009 §2.1):
		// the same answer, no effect.
		s2 := h.signIn("ada@example.com", pw).expect(t, 200, "")
		revoke(url.Values{"token": {s2.str("access_token")}, "client_id": {"rs"}, "client_secret": {"rs-secret"}}).
			expect(t, 200, "")
		h.call("GET", "/v1/auth/user", nil, s2.str("access_token")).expect(t, 200, "")
		revoke(url.Values{"token": {s2.str("access_token")}}).expect(t, 200, "")
		h.refresh(s2.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		h.call("GET", "/v1/auth/user", nil, s2.str("access_token")).expect(t, 401, "auth.token_revoked")
	})
}

// TestAdminApps: admins register apps; the secret is shown once and works
// at the token endpoint; a deleted app's codes are worthless.
func TestAdminApps(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		h.signUp("ada@example.com", pw)
		user := h.signIn("ada@example.com", pw).expect(t, 200, "").str("access_token")
		h.call("POST", "/v1/auth/admin/apps", map[string]any{"name": "x", "redirectUris": []string{"https://a.example/cb"}},
			user).expect(t, 403, "")
		for _, uri := range []string{"http://a.example/cb", "https://a.example/cb#f", "/cb", "javascript:alert(1)", "https:///cb"} {
			h.call("POST", "/v1/auth/admin/apps", map[string]any{"name": "x", "redirectUris": []string{uri}}, admin).
				expect(t, 400, "auth.invalid_app")
		}
		h.call("POST", "/v1/auth/admin/apps", map[string]any{"name": "x"}, admin).expect(t, 400, "auth.invalid_app")

		native := h.call("POST", "/v1/auth/admin/apps", map[string]any{"name": "Native", "public": true,
			"redirectUris": []string{"com.example.app:/cb", "http://127.0.0.1:7777/cb"}}, admin).expect(t, 201, "")
		if native.str("secret") != "" || native.Body["public"] != true {
			t.Fatalf("public app %s", native.Raw)
		}
		web := h.call("POST", "/v1/auth/admin/apps", map[string]any{"name": "Web",
			"redirectUris": []string{"https://web.example/cb"}}, admin).expect(t, 201, "")
		id, secret := web.str("id"), web.str("secret")
		if secret == "" {
			t.Fatalf("confidential app without a secret: %s", web.Raw)
		}
		list := h.call("GET", "/v1/auth/admin/apps", nil, admin).expect(t, 200, "")
		if items := asSlice(list.Body["items"]); len(items) != 2 || strings.Contains(list.Raw, secret) {
			t.Fatalf("list %s", list.Raw)
		}

		app := newApp(t, h, id, secret, "https://web.example/cb")
		code := get(t, nil, app.conf.AuthCodeURL("s"), user).Query.Get("code")
		if _, err := app.conf.Exchange(context.Background(), code); err != nil {
			t.Fatalf("exchange with the new app's secret: %v", err)
		}
		code = get(t, nil, app.conf.AuthCodeURL("s"), user).Query.Get("code")
		h.call("DELETE", "/v1/auth/admin/apps/"+id, nil, admin).expect(t, 204, "")
		h.call("DELETE", "/v1/auth/admin/apps/"+id, nil, admin).expect(t, 404, "auth.app_not_found")
		h.exchange(url.Values{"code": {code}, "redirect_uri": {"https://web.example/cb"}}, id, secret).
			expect(t, 401, "auth.invalid_client")
	})
}
