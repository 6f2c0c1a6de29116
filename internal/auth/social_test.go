package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/store/storetest"
)

// socialPair is two bam services: A the OpenID Connect provider, B a bam
// whose users sign in with A ("a" in B's URLs).
type socialPair struct{ A, B *harness }

func newSocialPair(t *testing.T, a *harness, opts ...func(*auth.Options)) socialPair {
	t.Helper()
	b := newHarness(t, storetest.Open(t, a.db.Dialect(), auth.Migrations...), func(o *auth.Options) {
		o.Social = []auth.SocialProvider{{Name: "a", Issuer: a.URL, ClientID: "bam-b", ClientSecret: "b-secret"}}
		o.RedirectURLs = []string{"https://app.example/done"}
		for _, opt := range opts {
			opt(o)
		}
	})
	a.registerApp("bam-b", "b-secret", b.URL+"/v1/auth/oidc/a/callback")
	return socialPair{a, b}
}

// browser is a user agent: its own cookies, redirects handed back.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: noFollow.CheckRedirect}
}

// start begins a sign-in at B and returns the browser and the URL of A's
// authorization endpoint it was sent to.
func (p socialPair) start(t *testing.T, redirectTo string) (*http.Client, *url.URL) {
	t.Helper()
	br := browser()
	q := url.Values{}
	if redirectTo != "" {
		q.Set("redirect_to", redirectTo)
	}
	r := get(t, br, p.B.URL+"/v1/auth/oidc/a/start?"+q.Encode(), "")
	if r.Status != 302 || r.Query.Get("state") == "" || r.Query.Get("nonce") == "" ||
		r.Query.Get("code_challenge_method") != "S256" || r.Location.Host != mustHost(t, p.A.URL) {
		t.Fatalf("start: %d %v %s", r.Status, r.Location, r.Body)
	}
	return br, r.Location
}

// authorizeAtA signs in at A (bearer token: bam has no login page) and
// returns the callback URL at B that A redirects to.
func (p socialPair) authorizeAtA(t *testing.T, authURL *url.URL, aToken string) string {
	t.Helper()
	r := get(t, nil, authURL.String(), aToken)
	if r.Status != 302 || r.Query.Get("code") == "" {
		t.Fatalf("authorize at A: %d %v %s", r.Status, r.Location, r.Body)
	}
	return r.Location.String()
}

// signInWithA runs the whole sign-in and returns B's tokens from the fragment.
func (p socialPair) signInWithA(t *testing.T, aToken string) url.Values {
	t.Helper()
	br, authURL := p.start(t, p.B.URL+"/app/done")
	r := get(t, br, p.authorizeAtA(t, authURL, aToken), "")
	if r.Status != 302 || r.Location.Path != "/app/done" || r.Fragment.Get("access_token") == "" {
		t.Fatalf("callback: %d %v %s", r.Status, r.Location, r.Body)
	}
	return r.Fragment
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func (h *harness) markVerified(email string) {
	h.t.Helper()
	if _, err := h.db.SQL().ExecContext(context.Background(),
		`UPDATE auth_users SET email_verified_at = $1 WHERE email = $2`, time.Now().UTC(), email); err != nil {
		h.t.Fatal(err)
	}
}

// TestSocialSignInNeedsVerifiedEmail: with RequireVerifiedEmail, a
// provider that does not vouch for the address signs nobody in, as the
// password grant does not.
func TestSocialSignInNeedsVerifiedEmail(t *testing.T) {
	run(t, func(t *testing.T, a *harness) {
		p := newSocialPair(t, a, func(o *auth.Options) { o.RequireVerifiedEmail = true })
		a.signUp("ann@example.com", pw)
		annAtA := a.signIn("ann@example.com", pw).expect(t, 200, "").str("access_token")
		br, authURL := p.start(t, "https://app.example/done")
		r := get(t, br, p.authorizeAtA(t, authURL, annAtA), "")
		if r.Status != 302 || r.Fragment.Get("error") != "auth.email_not_verified" || r.Fragment.Get("access_token") != "" {
			t.Fatalf("unverified: %d %v", r.Status, r.Location)
		}
		a.markVerified("ann@example.com")
		br, authURL = p.start(t, "https://app.example/done")
		if r := get(t, br, p.authorizeAtA(t, authURL, annAtA), ""); r.Fragment.Get("access_token") == "" {
			t.Fatalf("verified: %d %v", r.Status, r.Location)
		}
	})
}

// TestSocialSignIn: B's users sign in with A, a real OpenID Connect
// provider (another bam): new user, same user the second time, linking by
// verified email.
func TestSocialSignIn(t *testing.T) {
	run(t, func(t *testing.T, a *harness) {
		p := newSocialPair(t, a)
		a.signUp("ann@example.com", pw)
		annAtA := a.signIn("ann@example.com", pw).expect(t, 200, "").str("access_token")

		// First time: a new user at B, signed in with amr fed.
		frag := p.signInWithA(t, annAtA)
		if frag.Get("token_type") != "Bearer" || frag.Get("refresh_token") == "" || frag.Get("expires_in") != "900" {
			t.Fatalf("fragment %v", frag)
		}
		me := p.B.call("GET", "/v1/auth/user", nil, frag.Get("access_token")).expect(t, 200, "")
		if me.str("email") != "ann@example.com" || me.Body["emailVerified"] != false {
			t.Fatalf("B user %s", me.Raw) // A has not verified ann's address
		}
		if amr := strs(jwtClaims(t, frag.Get("access_token"))["amr"]); len(amr) != 1 || amr[0] != auth.AMRFederate {
			t.Fatalf("amr = %v", amr)
		}
		// Second time: the identity is known, the same user.
		again := p.signInWithA(t, annAtA)
		if id := p.B.call("GET", "/v1/auth/user", nil, again.Get("access_token")).expect(t, 200, "").str("id"); id != me.str("id") {
			t.Fatalf("second sign-in made user %s, want %s", id, me.str("id"))
		}

		// Linking: B has bob (unverified), A says bob's address is verified.
		bobAtB := p.B.signUp("bob@example.com", pw).str("id")
		bobSession := p.B.signIn("bob@example.com", pw).expect(t, 200, "")
		a.signUp("bob@example.com", pw)
		a.markVerified("bob@example.com")
		bobAtA := a.signIn("bob@example.com", pw).expect(t, 200, "").str("access_token")
		frag = p.signInWithA(t, bobAtA)
		me = p.B.call("GET", "/v1/auth/user", nil, frag.Get("access_token")).expect(t, 200, "")
		if me.str("id") != bobAtB || me.Body["emailVerified"] != true {
			t.Fatalf("linked user %s, want %s verified", me.Raw, bobAtB)
		}
		// Nobody had proved owning bob's unverified B account: whoever made it
		// loses its password and sessions.
		p.B.signIn("bob@example.com", pw).expect(t, 400, "auth.invalid_credentials")
		p.B.refresh(bobSession.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")

		// A verified B account keeps its password when linked.
		p.B.signUp("cy@example.com", pw)
		p.B.markVerified("cy@example.com")
		a.signUp("cy@example.com", pw)
		a.markVerified("cy@example.com")
		p.signInWithA(t, a.signIn("cy@example.com", pw).expect(t, 200, "").str("access_token"))
		p.B.signIn("cy@example.com", pw).expect(t, 200, "")

		// An unverified provider email matching a B account is refused.
		p.B.signUp("dee@example.com", pw)
		a.signUp("dee@example.com", pw)
		br, authURL := p.start(t, "https://app.example/done")
		r := get(t, br, p.authorizeAtA(t, authURL, a.signIn("dee@example.com", pw).expect(t, 200, "").str("access_token")), "")
		if r.Status != 302 || r.Location.Host != "app.example" || r.Fragment.Get("error") != "auth.identity_conflict" ||
			r.Fragment.Get("access_token") != "" {
			t.Fatalf("conflict: %d %v", r.Status, r.Location)
		}
		p.B.signIn("dee@example.com", pw).expect(t, 200, "")

		// Without redirect_to the callback answers JSON.
		br, authURL = p.start(t, "")
		r = get(t, br, p.authorizeAtA(t, authURL, annAtA), "")
		if r.Status != 200 || r.Location != nil {
			t.Fatalf("JSON callback: %d %s", r.Status, r.Body)
		}
	})
}

// TestSocialSignInErrors: state, nonce, PKCE, redirect_to and provider
// checks.
func TestSocialSignInErrors(t *testing.T) {
	run(t, func(t *testing.T, a *harness) {
		p := newSocialPair(t, a)
		a.signUp("ann@example.com", pw)
		annAtA := a.signIn("ann@example.com", pw).expect(t, 200, "").str("access_token")
		problem := func(t *testing.T, r redirect, status int, code string) {
			t.Helper()
			var body struct{ Code string }
			_ = json.Unmarshal([]byte(r.Body), &body)
			if r.Status != status || body.Code != code {
				t.Fatalf("got %d %s; want %d %s", r.Status, r.Body, status, code)
			}
		}

		t.Run("state not from this browser", func(t *testing.T) {
			_, authURL := p.start(t, "")
			callback := p.authorizeAtA(t, authURL, annAtA)
			problem(t, get(t, browser(), callback, ""), 400, "auth.oidc_state_invalid") // another browser: no cookie
		})
		t.Run("wrong state", func(t *testing.T) {
			br, authURL := p.start(t, "")
			callback, _ := url.Parse(p.authorizeAtA(t, authURL, annAtA))
			q := callback.Query()
			q.Set("state", "forged")
			callback.RawQuery = q.Encode()
			problem(t, get(t, br, callback.String(), ""), 400, "auth.oidc_state_invalid")
		})
		t.Run("state replayed", func(t *testing.T) {
			br, authURL := p.start(t, "")
			callback := p.authorizeAtA(t, authURL, annAtA)
			// The browser keeps a copy of the cookie, as an attacker would.
			cookies := br.Jar.Cookies(mustURL(t, p.B.URL+"/v1/auth/oidc/a/callback"))
			if r := get(t, br, callback, ""); r.Status != 200 {
				t.Fatalf("first callback: %d %s", r.Status, r.Body)
			}
			br.Jar.SetCookies(mustURL(t, p.B.URL+"/v1/auth/oidc/a/"), cookies)
			problem(t, get(t, br, callback, ""), 400, "auth.oidc_state_invalid")
		})
		t.Run("wrong nonce", func(t *testing.T) {
			br, authURL := p.start(t, "")
			q := authURL.Query()
			q.Set("nonce", "not-the-one-b-sent")
			authURL.RawQuery = q.Encode()
			problem(t, get(t, br, p.authorizeAtA(t, authURL, annAtA), ""), 400, "auth.oidc_id_token_invalid")
		})
		t.Run("wrong PKCE challenge", func(t *testing.T) {
			br, authURL := p.start(t, "")
			q := authURL.Query()
			q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
			authURL.RawQuery = q.Encode()
			problem(t, get(t, br, p.authorizeAtA(t, authURL, annAtA), ""), 400, "auth.oidc_exchange_failed")
		})
		t.Run("provider refused", func(t *testing.T) {
			br, authURL := p.start(t, "")
			r := get(t, nil, authURL.String(), "") // not signed in at A
			if r.Query.Get("error") != "login_required" {
				t.Fatalf("A answered %v", r.Location)
			}
			problem(t, get(t, br, r.Location.String(), ""), 403, "auth.oidc_denied")
		})
		t.Run("redirect_to not allowed", func(t *testing.T) {
			for _, to := range []string{"https://evil.example/", "//evil.example/x", "https://app.example/done2",
				"javascript:alert(1)", p.B.URL + "/x#frag",
				// Dot segments (encoded: plain ones are resolved first) and encoded slashes:
				// a browser resolves them out of the allowed path.
				"https://app.example/done/../evil", "https://app.example/done/%2e%2e/evil",
				"https://app.example/done/%2E%2e%2fevil", "https://app.example/done%2f..%2fevil"} {
				problem(t, get(t, browser(), p.B.URL+"/v1/auth/oidc/a/start?redirect_to="+url.QueryEscape(to), ""),
					400, "auth.redirect_not_allowed")
			}
			for _, to := range []string{"/app", p.B.URL + "/x?y=1", "https://app.example/done", "https://app.example/done/sub"} {
				if r := get(t, browser(), p.B.URL+"/v1/auth/oidc/a/start?redirect_to="+url.QueryEscape(to), ""); r.Status != 302 {
					t.Errorf("redirect_to %s refused: %d %s", to, r.Status, r.Body)
				}
			}
		})
		t.Run("unknown provider", func(t *testing.T) {
			problem(t, get(t, browser(), p.B.URL+"/v1/auth/oidc/zzz/start", ""), 404, "auth.oidc_provider_not_found")
		})
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
