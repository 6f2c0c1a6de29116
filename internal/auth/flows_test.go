package auth_test

import (
	"net/url"
	"sync"
	"testing"
	"time"
)

const pw = "correct horse battery staple"

func TestSignUpSignInRefreshLogout(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		u := h.signUp("Ann@Example.COM", pw)
		if u.str("email") != "ann@example.com" || u.str("id") == "" || u.Body["emailVerified"] != false {
			t.Fatalf("signup = %s", u.Raw)
		}
		// JSON body works as well as the form.
		tok := h.call("POST", "/v1/auth/token", map[string]any{"grant_type": "password",
			"username": "ann@example.com", "password": pw}, "").expect(t, 200, "")
		if tok.str("token_type") != "Bearer" || tok.Body["expires_in"] != float64(900) || tok.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response = %s", tok.Raw)
		}
		access, refresh := tok.str("access_token"), tok.str("refresh_token")
		me := h.call("GET", "/v1/auth/user", nil, access).expect(t, 200, "")
		if me.str("id") != u.str("id") {
			t.Fatalf("user = %s", me.Raw)
		}

		next := h.refresh(refresh).expect(t, 200, "")
		if next.str("refresh_token") == refresh || next.str("access_token") == "" {
			t.Fatalf("refresh did not rotate: %s", next.Raw)
		}
		// Within the grace window the old token gives the same successor (tabs).
		again := h.refresh(refresh).expect(t, 200, "")
		if again.str("refresh_token") != next.str("refresh_token") {
			t.Fatal("a reuse within the grace window returned another token")
		}
		// After it, reuse means theft: the family is revoked.
		h.clock.Advance(11 * time.Second)
		h.refresh(refresh).expect(t, 400, "auth.refresh_token_reused")
		if r := h.refresh(next.str("refresh_token")); r.Status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("successor still works after reuse: %s", r.Raw)
		}
		h.call("GET", "/v1/auth/user", nil, next.str("access_token")).expect(t, 401, "auth.token_revoked")

		// A fresh sign-in, then sign-out of this session.
		s2 := h.signIn("ann@example.com", pw).expect(t, 200, "")
		h.call("POST", "/v1/auth/logout", nil, s2.str("access_token")).expect(t, 204, "")
		h.call("GET", "/v1/auth/user", nil, s2.str("access_token")).expect(t, 401, "auth.token_revoked")
		h.refresh(s2.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
	})
}

func TestConcurrentRefreshInGrace(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("tabs@example.com", pw)
		refresh := h.signIn("tabs@example.com", pw).expect(t, 200, "").str("refresh_token")
		const tabs = 4
		got := make([]response, tabs)
		var wg sync.WaitGroup
		for i := range tabs {
			wg.Go(func() { got[i] = h.refresh(refresh) })
		}
		wg.Wait()
		for i, r := range got {
			if r.Status != 200 || r.str("refresh_token") != got[0].str("refresh_token") {
				t.Fatalf("tab %d: %d %s", i, r.Status, r.Raw)
			}
		}
		h.refresh(got[0].str("refresh_token")).expect(t, 200, "")
	})
}

func TestLogoutGlobal(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("bob@example.com", pw)
		a := h.signIn("bob@example.com", pw).expect(t, 200, "")
		b := h.signIn("bob@example.com", pw).expect(t, 200, "")
		list := h.call("GET", "/v1/auth/sessions", nil, a.str("access_token")).expect(t, 200, "")
		if items, _ := list.Body["items"].([]any); len(items) != 2 {
			t.Fatalf("sessions = %s", list.Raw)
		}
		h.call("POST", "/v1/auth/logout?scope=global", nil, a.str("access_token")).expect(t, 204, "")
		for _, s := range []response{a, b} {
			h.call("GET", "/v1/auth/user", nil, s.str("access_token")).expect(t, 401, "auth.token_revoked")
			h.refresh(s.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		}
		h.call("POST", "/v1/auth/logout?scope=galaxy", nil, h.signIn("bob@example.com", pw).str("access_token")).
			expect(t, 400, "auth.invalid_scope")
	})
}

func TestSignUpValidation(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("taken@example.com", pw)
		for _, tt := range []struct {
			name string
			body any
			code string
			want int
		}{
			{"taken email, any case", map[string]any{"email": "TAKEN@example.com", "password": pw}, "auth.email_taken", 409},
			{"not an email", map[string]any{"email": "nope", "password": pw}, "auth.invalid_email", 400},
			{"display name smuggled", map[string]any{"email": "Eve <eve@example.com>", "password": pw}, "auth.invalid_email", 400},
			{"short password", map[string]any{"email": "c@example.com", "password": "short"}, "auth.weak_password", 400},
			{"data not an object", map[string]any{"email": "d@example.com", "password": pw, "data": []int{1}}, "auth.invalid_user_data", 400},
			{"unknown field", map[string]any{"email": "e@example.com", "password": pw, "admin": true}, "request.unknown_field", 400},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := h.call("POST", "/v1/auth/signup", tt.body, "").expect(t, tt.want, tt.code)
				if r.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("content type %s", r.Header.Get("Content-Type"))
				}
			})
		}
	})
}

// TestNoEnumerationAndThrottle: an unknown email and a wrong password get
// the same answer, and so do their lock-outs.
func TestNoEnumerationAndThrottle(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("known@example.com", pw)
		shape := func(r response) string {
			return r.str("code") + "|" + r.str("error") + "|" + r.str("detail") + "|" + r.Header.Get("Content-Type")
		}
		known := h.signIn("known@example.com", "wrong password!")
		unknown := h.signIn("nobody@example.com", "wrong password!")
		if known.Status != 400 || known.Status != unknown.Status || shape(known) != shape(unknown) {
			t.Fatalf("answers differ:\n%d %s\n%d %s", known.Status, known.Raw, unknown.Status, unknown.Raw)
		}
		for _, email := range []string{"known@example.com", "nobody@example.com"} {
			var last response
			for range 6 {
				last = h.signIn(email, "wrong password!")
			}
			if last.Status != 429 || last.Header.Get("Retry-After") == "" || last.str("code") != "auth.too_many_attempts" {
				t.Fatalf("%s after 6 failures: %d %s", email, last.Status, last.Raw)
			}
		}
		// Even the right password waits out the block.
		h.signIn("known@example.com", pw).expect(t, 429, "auth.too_many_attempts")
		h.clock.Advance(time.Hour)
		h.signIn("known@example.com", pw).expect(t, 200, "")
	})
}

func TestUpdateUser(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("cat@example.com", pw)
		a := h.signIn("cat@example.com", pw).expect(t, 200, "")
		b := h.signIn("cat@example.com", pw).expect(t, 200, "")
		r := h.call("PATCH", "/v1/auth/user", map[string]any{"data": map[string]any{"name": "Cat"}}, a.str("access_token")).
			expect(t, 200, "")
		if d, _ := r.Body["data"].(map[string]any); d["name"] != "Cat" {
			t.Fatalf("data = %s", r.Raw)
		}
		h.call("PATCH", "/v1/auth/user", map[string]any{"password": "a brand new password", "currentPassword": "nope"},
			a.str("access_token")).expect(t, 400, "auth.invalid_credentials")
		h.call("PATCH", "/v1/auth/user", map[string]any{"password": "a brand new password", "currentPassword": pw},
			a.str("access_token")).expect(t, 200, "")
		// The other session is signed out; this one goes on.
		h.refresh(b.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		h.call("GET", "/v1/auth/user", nil, a.str("access_token")).expect(t, 200, "")
		h.signIn("cat@example.com", "a brand new password").expect(t, 200, "")
		h.call("GET", "/v1/auth/user", nil, "").expect(t, 401, "")
	})
}

func TestFormErrorsAreOAuthShaped(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		r := h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"magic"}}, "").expect(t, 400, "auth.unsupported_grant_type")
		if r.str("error") != "unsupported_grant_type" || r.str("error_description") == "" {
			t.Fatalf("not RFC 6749 shaped: %s", r.Raw)
		}
	})
}
