package auth_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bamhq/bam/internal/auth"
)

// enrollTOTP turns on TOTP for a signed-in user and returns the secret, the
// code that activated it and the recovery codes.
func (h *harness) enrollTOTP(access string) (secret, code string, recovery []string) {
	t := h.t
	t.Helper()
	e := h.call("POST", "/v1/auth/mfa/totp", nil, access).expect(t, 200, "")
	secret = e.str("secret")
	if !strings.HasPrefix(e.str("uri"), "otpauth://totp/") || !strings.Contains(e.str("uri"), "secret="+secret) ||
		!strings.HasPrefix(e.str("qrCode"), "data:image/png;base64,iVBOR") || e.str("factorId") == "" {
		t.Fatalf("enrolment = %s", e.Raw)
	}
	h.call("POST", "/v1/auth/mfa/totp/verify", map[string]any{"factorId": e.str("factorId"), "code": "000000"}, access).
		expect(t, 400, "auth.mfa_invalid_code")
	code = h.totp(secret)
	v := h.call("POST", "/v1/auth/mfa/totp/verify", map[string]any{"factorId": e.str("factorId"),
		"code": code}, access).expect(t, 200, "")
	recovery = strs(v.Body["recoveryCodes"])
	if len(recovery) != 10 {
		t.Fatalf("verify = %s", v.Raw)
	}
	return secret, code, recovery
}

// totp is the code an authenticator app shows now.
func (h *harness) totp(secret string) string {
	h.t.Helper()
	code, err := totp.GenerateCode(secret, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return code
}

// challenge signs in with the password and expects the MFA challenge.
func (h *harness) challenge(email string) string {
	h.t.Helper()
	r := h.signIn(email, pw).expect(h.t, 200, "")
	if r.Body["mfa_required"] != true || r.str("access_token") != "" || r.str("refresh_token") != "" ||
		!strings.HasPrefix(r.str("mfa_token"), "bamm_") || len(asSlice(r.Body["factors"])) != 1 {
		h.t.Fatalf("sign-in with MFA = %s", r.Raw)
	}
	return r.str("mfa_token")
}

func (h *harness) answer(mfaToken string, body map[string]any) response {
	h.t.Helper()
	body["mfa_token"] = mfaToken
	return h.call("POST", "/v1/auth/mfa/challenge", body, "")
}

func TestMFATOTP(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "mfa@example.com"
		h.signUp(email, pw)
		aal1 := h.signIn(email, pw).expect(t, 200, "").str("access_token")
		secret, first, recovery := h.enrollTOTP(aal1)
		me := h.call("GET", "/v1/auth/user", nil, aal1).expect(t, 200, "")
		if me.Body["mfaEnabled"] != true {
			t.Fatalf("user = %s", me.Raw)
		}
		h.awaitEvent(auth.EventMFAEnabled, me.str("id"))
		h.call("POST", "/v1/auth/mfa/totp", nil, aal1).expect(t, 409, "auth.mfa_already_enabled")

		// The enrolment's code cannot be used again to sign in.
		mfaToken := h.challenge(email)
		h.answer(mfaToken, map[string]any{"code": first}).expect(t, 400, "auth.mfa_invalid_code")
		h.clock.Advance(30 * time.Second)
		code := h.totp(secret)
		tok := h.answer(mfaToken, map[string]any{"code": code}).expect(t, 200, "")
		c := jwtClaims(t, tok.str("access_token"))
		if c["aal"] != "aal2" || !slices.Equal(strs(c["amr"]), []string{"pwd", "mfa", "totp"}) || tok.str("refresh_token") == "" {
			t.Fatalf("claims = %v", c)
		}
		// The mfa_token is single-use, and so is the code.
		h.answer(mfaToken, map[string]any{"code": code}).expect(t, 400, "auth.mfa_token_invalid")
		h.answer(h.challenge(email), map[string]any{"code": code}).expect(t, 400, "auth.mfa_invalid_code")
		// A refresh keeps the assurance level.
		if c := jwtClaims(t, h.refresh(tok.str("refresh_token")).expect(t, 200, "").str("access_token")); c["aal"] != "aal2" {
			t.Fatalf("refreshed claims = %v", c)
		}

		// A recovery code works once, with or without its dashes.
		rec := h.answer(h.challenge(email), map[string]any{"recovery_code": strings.ToUpper(recovery[3])}).expect(t, 200, "")
		if c := jwtClaims(t, rec.str("access_token")); !slices.Equal(strs(c["amr"]), []string{"pwd", "mfa", "recovery"}) {
			t.Fatalf("recovery claims = %v", c)
		}
		h.answer(h.challenge(email), map[string]any{"recovery_code": strings.ReplaceAll(recovery[3], "-", "")}).
			expect(t, 400, "auth.mfa_invalid_code")
		h.answer(h.challenge(email), map[string]any{"recovery_code": recovery[4]}).expect(t, 200, "")
		h.answer(h.challenge(email), map[string]any{}).expect(t, 400, "auth.invalid_request")

		// Switching MFA off needs a second-factor session.
		factors := h.call("GET", "/v1/auth/mfa/factors", nil, aal1).expect(t, 200, "")
		fid := asSlice(factors.Body["items"])[0].(map[string]any)["id"].(string)
		h.call("DELETE", "/v1/auth/mfa/"+fid, nil, aal1).expect(t, 403, "auth.aal2_required")
		h.call("DELETE", "/v1/auth/mfa/"+fid, nil, tok.str("access_token")).expect(t, 204, "")
		h.signIn(email, pw).expect(t, 200, "") // tokens again, no challenge
		if r := h.signIn(email, pw); r.str("access_token") == "" {
			t.Fatalf("sign-in after MFA removal = %s", r.Raw)
		}
	})
}

func TestMFAThrottleAndExpiry(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "slow@example.com"
		h.signUp(email, pw)
		secret, _, _ := h.enrollTOTP(h.signIn(email, pw).expect(t, 200, "").str("access_token"))
		h.clock.Advance(30 * time.Second)

		// Wrong codes back off, and the right one waits too.
		mfaToken := h.challenge(email)
		blocked := 0
		for i := range 6 {
			r := h.answer(mfaToken, map[string]any{"code": "123456"})
			if r.Status == 429 {
				if r.Header.Get("Retry-After") == "" || r.str("code") != "auth.too_many_attempts" {
					t.Fatalf("429 = %v %s", r.Header, r.Raw)
				}
				blocked = i + 1
				break
			}
			r.expect(t, 400, "auth.mfa_invalid_code")
		}
		if blocked != 6 {
			t.Fatalf("first 429 at attempt %d, want 6", blocked)
		}
		h.answer(mfaToken, map[string]any{"code": h.totp(secret)}).expect(t, 429, "auth.too_many_attempts")
		// After the block, this mfa_token has had its 5 tries; a new one works.
		h.clock.Advance(time.Minute)
		h.answer(mfaToken, map[string]any{"code": h.totp(secret)}).expect(t, 400, "auth.mfa_token_invalid")
		fresh := h.challenge(email)
		h.answer(fresh, map[string]any{"code": h.totp(secret)}).expect(t, 200, "")

		// A challenge lives five minutes.
		h.clock.Advance(30 * time.Second)
		late := h.challenge(email)
		h.clock.Advance(6 * time.Minute)
		h.answer(late, map[string]any{"code": h.totp(secret)}).expect(t, 400, "auth.mfa_token_invalid")
	})
}
