package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bamhq/bam/internal/auth"
)

// refreshAs posts a refresh_token grant with extra form fields and,
// when basicID is set, HTTP Basic client credentials.
func (h *harness) refreshAs(token string, form url.Values, basicID, basicSecret string) response {
	h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", token)
	req, _ := http.NewRequest("POST", h.URL+"/v1/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return h.send(req)
}

// TestRefreshBoundToClient: a refresh token from the code grant refreshes
// only with its client, authenticated as at the exchange (RFC 6749 §6,
// §10.4); the new access token keeps client_id; bam's own sessions are
// unchanged; deleting the app revokes its sessions.
func TestRefreshBoundToClient(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("ada@example.com", pw)
		bam := h.signIn("ada@example.com", pw).expect(t, 200, "")
		bamToken := bam.str("access_token")
		h.registerApp("web", "s3cret", "https://web.example/cb")
		h.registerApp("other", "other-s3cret", "https://other.example/cb")
		h.registerApp("spa", "", "https://app.example/cb")

		// webSession runs the code grant for the confidential app "web".
		webSession := func() response {
			t.Helper()
			app := newApp(t, h, "web", "s3cret", "https://web.example/cb")
			code := get(t, nil, app.conf.AuthCodeURL("s"), bamToken).Query.Get("code")
			return h.exchange(url.Values{"code": {code}, "redirect_uri": {"https://web.example/cb"}}, "web", "s3cret").
				expect(t, 200, "")
		}
		web := webSession()
		rt := web.str("refresh_token")
		sid, _ := jwtClaims(t, web.str("access_token"))["sid"].(string)

		// The session records its client.
		sessions := h.call("GET", "/v1/auth/sessions", nil, bamToken).expect(t, 200, "")
		found := false
		for _, it := range asSlice(sessions.Body["items"]) {
			if m, _ := it.(map[string]any); m["id"] == sid {
				found = m["clientId"] == "web"
			} else if m["clientId"] != nil {
				t.Fatalf("bam's own session has a client: %v", m)
			}
		}
		if !found {
			t.Fatalf("session %s with clientId web not listed: %s", sid, sessions.Raw)
		}

		// Failed attempts are refused and do not spend the token.
		for _, tc := range []struct {
			name           string
			form           url.Values
			basicID, basic string
			status         int
			code, oauth    string
		}{
			{"no client", nil, "", "", 401, "auth.invalid_client", "invalid_client"},
			{"client_id without its secret", url.Values{"client_id": {"web"}}, "", "", 401, "auth.invalid_client", "invalid_client"},
			{"wrong secret", nil, "web", "wrong", 401, "auth.invalid_client", "invalid_client"},
			{"unknown client", nil, "nope", "s3cret", 401, "auth.invalid_client", "invalid_client"},
			{"another confidential client", nil, "other", "other-s3cret", 400, "auth.refresh_token_invalid", "invalid_grant"},
			{"a public client", url.Values{"client_id": {"spa"}}, "", "", 400, "auth.refresh_token_invalid", "invalid_grant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.refreshAs(rt, tc.form, tc.basicID, tc.basic).expect(t, tc.status, tc.code)
				if r.str("error") != tc.oauth {
					t.Fatalf("error = %s", r.Raw)
				}
			})
		}

		// The right client, by Basic, then in the body.
		r := h.refreshAs(rt, nil, "web", "s3cret").expect(t, 200, "")
		c := jwtClaims(t, r.str("access_token"))
		if c["client_id"] != "web" || c["sid"] != sid || r.Body["user"] != nil {
			t.Fatalf("refreshed: claims %v, body %s", c, r.Raw)
		}
		h.call("GET", "/v1/auth/userinfo", nil, r.str("access_token")).expect(t, 200, "")
		r = h.refreshAs(r.str("refresh_token"), url.Values{"client_id": {"web"}, "client_secret": {"s3cret"}}, "", "").
			expect(t, 200, "")
		if c := jwtClaims(t, r.str("access_token")); c["client_id"] != "web" {
			t.Fatalf("second refresh: claims %v", c)
		}
		webRT, webAT := r.str("refresh_token"), r.str("access_token")

		t.Run("public client", func(t *testing.T) {
			spa := newApp(t, h, "spa", "", "https://app.example/cb")
			spa.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			verifier := oauth2.GenerateVerifier()
			code := spa.authorize(t, h, bamToken, verifier, "")
			tok := h.exchange(url.Values{"code": {code}, "redirect_uri": {"https://app.example/cb"}, "client_id": {"spa"},
				"code_verifier": {verifier}}, "", "").expect(t, 200, "")
			h.refresh(tok.str("refresh_token")).expect(t, 401, "auth.invalid_client")
			h.refreshAs(tok.str("refresh_token"), url.Values{"client_id": {"spa"}, "client_secret": {"x"}}, "", "").
				expect(t, 401, "auth.invalid_client") // a public client has no secret
			h.refreshAs(tok.str("refresh_token"), nil, "web", "s3cret").expect(t, 400, "auth.refresh_token_invalid")
			r := h.refreshAs(tok.str("refresh_token"), url.Values{"client_id": {"spa"}}, "", "").expect(t, 200, "")
			if c := jwtClaims(t, r.str("access_token")); c["client_id"] != "spa" {
				t.Fatalf("claims %v", c)
			}
		})

		t.Run("bam's own session is unchanged", func(t *testing.T) {
			s := h.signIn("ada@example.com", pw).expect(t, 200, "")
			r := h.refresh(s.str("refresh_token")).expect(t, 200, "")
			if c := jwtClaims(t, r.str("access_token")); c["client_id"] != nil || r.Body["user"] == nil {
				t.Fatalf("claims %v, body %s", c, r.Raw)
			}
			// Credentials that are sent must be right; right ones change nothing.
			h.refreshAs(r.str("refresh_token"), nil, "web", "wrong").expect(t, 401, "auth.invalid_client")
			r = h.refreshAs(r.str("refresh_token"), nil, "web", "s3cret").expect(t, 200, "")
			if c := jwtClaims(t, r.str("access_token")); c["client_id"] != nil {
				t.Fatalf("claims %v", c)
			}
		})

		t.Run("deleting the app revokes its sessions", func(t *testing.T) {
			other := webSession() // a second session of the app
			otherSID, _ := jwtClaims(t, other.str("access_token"))["sid"].(string)
			h.call("DELETE", "/v1/auth/admin/apps/web", nil, h.adminToken()).expect(t, 204, "")
			h.awaitEvent(auth.EventSessionRevoked, sid)
			h.awaitEvent(auth.EventSessionRevoked, otherSID)
			for _, at := range []string{webAT, other.str("access_token")} {
				h.call("GET", "/v1/auth/user", nil, at).expect(t, 401, "auth.token_revoked")
			}
			h.refreshAs(webRT, nil, "web", "s3cret").expect(t, 401, "auth.invalid_client") // the client is gone
			h.refresh(webRT).expect(t, 400, "auth.refresh_token_invalid")                  // and so is the session
			h.refreshAs(other.str("refresh_token"), nil, "web", "s3cret").expect(t, 401, "auth.invalid_client")
			// The user's own session is untouched.
			h.call("GET", "/v1/auth/user", nil, bamToken).expect(t, 200, "")
			h.refresh(bam.str("refresh_token")).expect(t, 200, "")
		})
	})
}
