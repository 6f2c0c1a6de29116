package auth_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestClientTokensAreScoped: a token an app gets through the code grant
// carries the granted scope, not the user's roles or permissions, and is
// refused where bam's own token is required — even for an administrator.
// Only offline_access earns a refresh token.
func TestClientTokensAreScoped(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		h.registerApp("web", "s3cret", "https://web.example/cb")

		// grant runs the code grant for "web" with scope, as the admin.
		grant := func(scope string) response {
			t.Helper()
			app := newApp(t, h, "web", "s3cret", "https://web.example/cb")
			app.conf.Scopes = nil
			r := get(t, nil, app.conf.AuthCodeURL("s")+"&scope="+url.QueryEscape(scope), admin)
			code := r.Query.Get("code")
			if code == "" {
				t.Fatalf("authorize: %d %v %s", r.Status, r.Location, r.Body)
			}
			return h.exchange(url.Values{"code": {code}, "redirect_uri": {"https://web.example/cb"}}, "web", "s3cret").
				expect(t, 200, "")
		}
		// scoped checks an app access token's claims and what it may call.
		scoped := func(t *testing.T, token, scope string) {
			t.Helper()
			c := jwtClaims(t, token)
			if c["client_id"] != "web" || c["scope"] != scope || len(asSlice(c["roles"])) != 0 ||
				len(asSlice(c["permissions"])) != 0 {
				t.Fatalf("app access token claims %v, want scope %q and no roles or permissions", c, scope)
			}
			for _, tc := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/v1/auth/admin/users", nil},
				{"GET", "/v1/auth/admin/apps", nil},
				{"POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{"admin"}}},
				{"GET", "/v1/auth/keys", nil},
				{"PATCH", "/v1/auth/user", map[string]any{"email": "attacker@example.com"}},
				{"PATCH", "/v1/auth/user", map[string]any{"data": map[string]any{"x": 1}}},
				{"POST", "/v1/auth/mfa/totp", nil},
				{"GET", "/v1/auth/mfa/factors", nil},
				// The profile and the sessions (their addresses and devices)
				// are the account's: an app reads what its scope grants
				// from userinfo.
				{"GET", "/v1/auth/user", nil},
				{"GET", "/v1/auth/sessions", nil},
				{"DELETE", "/v1/auth/sessions/" + jwtClaims(t, token)["sid"].(string), nil},
				{"POST", "/v1/auth/logout?scope=global", nil},
			} {
				h.call(tc.method, tc.path, tc.body, token).expect(t, 403, "auth.client_token_forbidden")
			}
			// Nor is it a sign-in to bam that could authorize an app (this
			// one or another) for more scope.
			app := newApp(t, h, "web", "s3cret", "https://web.example/cb")
			app.conf.Scopes = nil
			r := get(t, nil, app.conf.AuthCodeURL("s")+"&scope="+url.QueryEscape("openid email offline_access"), token)
			if r.Query.Get("error") != "login_required" || r.Query.Get("code") != "" {
				t.Fatalf("authorize with an app's token: %d %v", r.Status, r.Location)
			}
			info := h.call("GET", "/v1/auth/userinfo", nil, token).expect(t, 200, "")
			if hasEmail := info.Body["email"] != nil; hasEmail != strings.Contains(scope, "email") {
				t.Fatalf("userinfo for scope %q: %s", scope, info.Raw)
			}
		}

		// The admin's own token still works.
		h.call("GET", "/v1/auth/admin/users", nil, admin).expect(t, 200, "")

		t.Run("openid only", func(t *testing.T) {
			scoped(t, grant("openid").str("access_token"), "openid")
		})

		t.Run("without offline_access", func(t *testing.T) {
			r := grant("openid email")
			if r.Body["refresh_token"] != nil || r.str("scope") != "openid email" {
				t.Fatalf("token response %s", r.Raw)
			}
			scoped(t, r.str("access_token"), "openid email")
		})

		t.Run("with offline_access", func(t *testing.T) {
			r := grant("openid email offline_access")
			rt := r.str("refresh_token")
			if rt == "" {
				t.Fatalf("no refresh token: %s", r.Raw)
			}
			scoped(t, r.str("access_token"), "openid email offline_access")
			r = h.refreshAs(rt, nil, "web", "s3cret").expect(t, 200, "")
			scoped(t, r.str("access_token"), "openid email offline_access")
			// The app may still sign the session out.
			h.call("POST", "/v1/auth/logout", nil, r.str("access_token")).expect(t, 204, "")
			h.refreshAs(r.str("refresh_token"), nil, "web", "s3cret").expect(t, 400, "auth.refresh_token_invalid")
		})
	})
}
