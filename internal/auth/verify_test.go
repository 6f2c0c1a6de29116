package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/auth/mail/mailtest"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// runWith is run with the service's options tweaked.
func runWith(t *testing.T, tweak func(*auth.Options), fn func(t *testing.T, h *harness)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) { fn(t, newHarness(t, db, tweak)) }, auth.Migrations...)
}

// awaitMail returns the next mail to to, received by the test SMTP server.
func (h *harness) awaitMail(to string) mailtest.Received {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := h.mail.Wait(ctx, to)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// noMailTo fails if to got any mail, once the background mail jobs are done.
func (h *harness) noMailTo(to string) {
	h.t.Helper()
	if err := h.svc.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	for _, m := range h.mail.Messages() {
		if slices.Contains(m.To, to) {
			h.t.Fatalf("a mail went to %s: %s", to, m.Subject)
		}
	}
}

var (
	verifyLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/v1/auth/verify\?[^\s"<>]+`)
	otpRE        = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)
)

// mailLink returns the verify link in m's text, checking its type, and the
// token it carries.
func mailLink(t *testing.T, m mailtest.Received, typ string) (link, token string) {
	t.Helper()
	link = verifyLinkRE.FindString(m.Text)
	u, err := url.Parse(link)
	if link == "" || err != nil || u.Query().Get("type") != typ || u.Query().Get("token") == "" {
		t.Fatalf("no %s link in mail %q:\n%s", typ, m.Subject, m.Text)
	}
	if !strings.Contains(m.HTML, u.Query().Get("token")) {
		t.Fatalf("the HTML part lacks the link:\n%s", m.HTML)
	}
	return link, u.Query().Get("token")
}

func mailCode(t *testing.T, m mailtest.Received) string {
	t.Helper()
	g := otpRE.FindStringSubmatch(m.Text)
	if g == nil {
		t.Fatalf("no code in mail:\n%s", m.Text)
	}
	return g[1]
}

// tokenClaims decodes an access token's payload (the signature is checked
// by the service whenever the token is used).
func tokenClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("bad JWT payload: %q", parts[1])
	}
	return c
}

func hasAMR(t *testing.T, access, method string) bool {
	amr, _ := tokenClaims(t, access)["amr"].([]any)
	return slices.Contains(amr, any(method))
}

func (h *harness) verify(body map[string]any) response {
	h.t.Helper()
	return h.call("POST", "/v1/auth/verify", body, "")
}

// get fetches path with headers, raw.
func (h *harness) get(path string, header map[string]string) (int, http.Header, string) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// TestVerifiedSignUpFlow is the end-to-end flow: sign-up, the
// verification mail over SMTP, verify, sign in, refresh, reuse of an old
// refresh token revoking the family, sign-out everywhere.
func TestVerifiedSignUpFlow(t *testing.T) {
	runWith(t, func(o *auth.Options) { o.RequireVerifiedEmail = true }, func(t *testing.T, h *harness) {
		const email = "vera@example.com"
		h.signUp("Vera@Example.com", pw)
		h.signIn(email, pw).expect(t, 403, "auth.email_not_verified")

		m := h.awaitMail(email)
		if !strings.Contains(m.Subject, "Confirm your email") {
			t.Fatalf("subject %q", m.Subject)
		}
		link, token := mailLink(t, m, "signup")
		if !strings.HasPrefix(link, h.URL+"/v1/auth/verify?") {
			t.Fatalf("link %s is not on the site %s", link, h.URL)
		}
		u := h.verify(map[string]any{"type": "signup", "token": token}).expect(t, 200, "")
		if u.Body["emailVerified"] != true || u.str("email") != email {
			t.Fatalf("verified user = %s", u.Raw)
		}
		h.verify(map[string]any{"type": "signup", "token": token}).expect(t, 400, "auth.code_invalid")

		tok := h.signIn(email, pw).expect(t, 200, "")
		if c := tokenClaims(t, tok.str("access_token")); c["email_verified"] != true || !hasAMR(t, tok.str("access_token"), "pwd") {
			t.Fatalf("claims %v", c)
		}
		next := h.refresh(tok.str("refresh_token")).expect(t, 200, "")
		h.clock.Advance(11 * time.Second) // past the grace window
		h.refresh(tok.str("refresh_token")).expect(t, 400, "auth.refresh_token_reused")
		h.refresh(next.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		h.call("GET", "/v1/auth/user", nil, next.str("access_token")).expect(t, 401, "auth.token_revoked")

		a := h.signIn(email, pw).expect(t, 200, "")
		b := h.signIn(email, pw).expect(t, 200, "")
		h.call("POST", "/v1/auth/logout?scope=global", nil, b.str("access_token")).expect(t, 204, "")
		for _, s := range []response{a, b} {
			h.call("GET", "/v1/auth/user", nil, s.str("access_token")).expect(t, 401, "auth.token_revoked")
			h.refresh(s.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		}
	})
}

// TestVerifyLinkClicked: the link in the mail works when opened — a page
// for a browser, JSON for an API client — and a HEAD (a link scanner) does
// not spend it.
func TestVerifyLinkClicked(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("click@example.com", pw)
		link, _ := mailLink(t, h.awaitMail("click@example.com"), "signup")
		path := strings.TrimPrefix(link, h.URL)
		if resp, err := http.Head(link); err != nil || resp.StatusCode != 200 {
			t.Fatalf("HEAD: %v %v", resp, err)
		}
		status, hdr, body := h.get(path, map[string]string{"Accept": "text/html,application/xhtml+xml"})
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "confirmed") || hdr.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("GET as a browser: %d %v\n%s", status, hdr, body)
		}
		status, _, body = h.get(path, map[string]string{"Accept": "text/html"})
		if status != 400 || !strings.Contains(body, "invalid or has expired") {
			t.Fatalf("second click: %d\n%s", status, body)
		}
		tok := h.signIn("click@example.com", pw).expect(t, 200, "")
		if tokenClaims(t, tok.str("access_token"))["email_verified"] != true {
			t.Fatal("email_verified is not set after the link was clicked")
		}

		h.signUp("api@example.com", pw)
		link, _ = mailLink(t, h.awaitMail("api@example.com"), "signup")
		r := h.call("GET", strings.TrimPrefix(link, h.URL), nil, "").expect(t, 200, "")
		if r.Body["emailVerified"] != true {
			t.Fatalf("GET as an API client: %s", r.Raw)
		}
		h.call("GET", "/v1/auth/verify?type=bogus&token=x", nil, "").expect(t, 400, "auth.invalid_verify_type")
	})
}

// TestCodeInvalidIsUniform: a wrong, used, expired or other-kind code all
// get one answer.
func TestCodeInvalidIsUniform(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("one@example.com", pw)
		_, used := mailLink(t, h.awaitMail("one@example.com"), "signup")
		h.verify(map[string]any{"type": "signup", "token": used}).expect(t, 200, "")
		h.signUp("two@example.com", pw)
		_, fresh := mailLink(t, h.awaitMail("two@example.com"), "signup")

		var answers []response
		answers = append(answers,
			h.verify(map[string]any{"type": "signup", "token": used}),
			h.verify(map[string]any{"type": "signup", "token": "forged-" + fresh[7:]}),
			h.verify(map[string]any{"type": "magiclink", "token": fresh}),
			h.verify(map[string]any{"type": "recovery", "token": fresh, "password": "a new password here"}))
		h.clock.Advance(25 * time.Hour)
		answers = append(answers, h.verify(map[string]any{"type": "signup", "token": fresh}))
		for i, a := range answers {
			a.expect(t, 400, "auth.code_invalid")
			if a.str("detail") != answers[0].str("detail") {
				t.Fatalf("answer %d differs: %s vs %s", i, a.Raw, answers[0].Raw)
			}
		}
		h.verify(map[string]any{"type": "signup"}).expect(t, 400, "auth.code_invalid")
		h.verify(map[string]any{"type": "sms", "token": fresh}).expect(t, 400, "auth.invalid_verify_type")
	})
}

// TestResendVerification: a new mail voids the older link; a verified or
// unknown address gets the same answer and no mail.
func TestResendVerification(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("re@example.com", pw)
		_, first := mailLink(t, h.awaitMail("re@example.com"), "signup")
		ok := h.call("POST", "/v1/auth/verify/resend", map[string]any{"email": "RE@example.com"}, "").expect(t, 202, "")
		unknown := h.call("POST", "/v1/auth/verify/resend", map[string]any{"email": "ghost@example.com"}, "").expect(t, 202, "")
		if ok.Raw != unknown.Raw {
			t.Fatalf("answers differ: %s vs %s", ok.Raw, unknown.Raw)
		}
		_, second := mailLink(t, h.awaitMail("re@example.com"), "signup")
		h.verify(map[string]any{"type": "signup", "token": first}).expect(t, 400, "auth.code_invalid")
		h.verify(map[string]any{"type": "signup", "token": second}).expect(t, 200, "")
		h.call("POST", "/v1/auth/verify/resend", map[string]any{"email": "re@example.com"}, "").expect(t, 202, "")
		h.noMailTo("ghost@example.com")
		if n := len(h.mail.Messages()); n != 2 {
			t.Fatalf("%d mails; want 2 (none once verified)", n)
		}
		h.call("POST", "/v1/auth/verify/resend", map[string]any{"email": "nope"}, "").expect(t, 400, "auth.invalid_email")
	})
}

// TestRecoverNoEnumeration: a known and an unknown address get the same
// status and body; only the known one gets a mail.
func TestRecoverNoEnumeration(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("known@example.com", pw)
		h.awaitMail("known@example.com") // the verification mail
		known := h.call("POST", "/v1/auth/recover", map[string]any{"email": "known@example.com"}, "").expect(t, 202, "")
		unknown := h.call("POST", "/v1/auth/recover", map[string]any{"email": "unknown@example.com"}, "").expect(t, 202, "")
		if known.Raw != unknown.Raw || known.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
			t.Fatalf("answers differ:\n%s\n%s", known.Raw, unknown.Raw)
		}
		if m := h.awaitMail("known@example.com"); !strings.Contains(m.Subject, "Reset your") {
			t.Fatalf("subject %q", m.Subject)
		}
		h.noMailTo("unknown@example.com")
	})
}

// TestRecoveryResetsPassword: the link sets a new password, signs in, and
// signs out every older session; it works once.
func TestRecoveryResetsPassword(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "rex@example.com"
		h.signUp(email, pw)
		h.awaitMail(email)
		a := h.signIn(email, pw).expect(t, 200, "")
		b := h.signIn(email, pw).expect(t, 200, "")
		h.call("POST", "/v1/auth/recover", map[string]any{"email": email}, "").expect(t, 202, "")
		link, token := mailLink(t, h.awaitMail(email), "recovery")

		// Opening the link shows a form and spends nothing.
		status, hdr, body := h.get(strings.TrimPrefix(link, h.URL), map[string]string{"Accept": "text/html"})
		if status != 200 || !strings.Contains(body, `name="password"`) || !strings.Contains(body, token) ||
			!strings.Contains(hdr.Get("Content-Security-Policy"), "form-action 'self'") {
			t.Fatalf("GET link: %d %v\n%s", status, hdr, body)
		}
		h.verify(map[string]any{"type": "recovery", "token": token, "password": "short"}).expect(t, 400, "auth.weak_password")

		const newPW = "a much better password"
		tok := h.verify(map[string]any{"type": "recovery", "token": token, "password": newPW}).expect(t, 200, "")
		if !hasAMR(t, tok.str("access_token"), "otp") || tok.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response %s", tok.Raw)
		}
		me := h.call("GET", "/v1/auth/user", nil, tok.str("access_token")).expect(t, 200, "")
		if me.Body["emailVerified"] != true {
			t.Fatalf("the link did not verify the address: %s", me.Raw)
		}
		for _, s := range []response{a, b} {
			h.call("GET", "/v1/auth/user", nil, s.str("access_token")).expect(t, 401, "auth.token_revoked")
			h.refresh(s.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		}
		h.verify(map[string]any{"type": "recovery", "token": token, "password": "yet another password"}).
			expect(t, 400, "auth.code_invalid")
		h.signIn(email, pw).expect(t, 400, "auth.invalid_credentials")
		h.signIn(email, newPW).expect(t, 200, "")

		// The built-in form: a browser posts it and gets a page, no tokens.
		h.call("POST", "/v1/auth/recover", map[string]any{"email": email}, "").expect(t, 202, "")
		_, token = mailLink(t, h.awaitMail(email), "recovery")
		form := url.Values{"type": {"recovery"}, "token": {token}, "password": {pw}}
		req, _ := http.NewRequest("POST", h.URL+"/v1/auth/verify", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "Password changed") || strings.Contains(string(page), "bamr_") {
			t.Fatalf("form post: %d\n%s", resp.StatusCode, page)
		}
		h.signIn(email, pw).expect(t, 200, "")
	})
}

// TestMagicLinkSignIn: the link signs in once, verifies the address and
// voids the code sent with it; an unknown address gets the same answer and
// no mail.
func TestMagicLinkSignIn(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "mo@example.com"
		h.signUp(email, pw)
		h.awaitMail(email)
		known := h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
		unknown := h.call("POST", "/v1/auth/otp", map[string]any{"email": "nomo@example.com"}, "").expect(t, 202, "")
		if known.Raw != unknown.Raw {
			t.Fatalf("answers differ:\n%s\n%s", known.Raw, unknown.Raw)
		}
		m := h.awaitMail(email)
		link, token := mailLink(t, m, "magiclink")
		code := mailCode(t, m)

		status, _, body := h.get(strings.TrimPrefix(link, h.URL), nil) // a scanner fetching the link
		if status != 200 || !strings.Contains(body, "<form") {
			t.Fatalf("GET link: %d\n%s", status, body)
		}
		tok := h.verify(map[string]any{"type": "magiclink", "token": token}).expect(t, 200, "")
		access := tok.str("access_token")
		if !hasAMR(t, access, "otp") || tokenClaims(t, access)["email_verified"] != true {
			t.Fatalf("claims %v", tokenClaims(t, access))
		}
		h.refresh(tok.str("refresh_token")).expect(t, 200, "")
		h.verify(map[string]any{"type": "magiclink", "token": token}).expect(t, 400, "auth.code_invalid")
		h.verify(map[string]any{"type": "otp", "email": email, "code": code}).expect(t, 400, "auth.code_invalid")
		h.noMailTo("nomo@example.com")
	})
}

// TestOTPSignIn: the 6-digit code signs in once; wrong codes count, and
// enough of them burn the code and throttle the address.
func TestOTPSignIn(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "otto@example.com"
		h.signUp(email, pw)
		h.awaitMail(email)
		h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
		m := h.awaitMail(email)
		code := mailCode(t, m)
		_, magic := mailLink(t, m, "magiclink")
		wrong := func(c string) string { return string(rune('0'+(c[0]-'0'+1)%10)) + c[1:] }

		for range 2 {
			h.verify(map[string]any{"type": "otp", "email": email, "code": wrong(code)}).expect(t, 400, "auth.code_invalid")
		}
		tok := h.verify(map[string]any{"type": "otp", "email": "OTTO@example.com", "code": code}).expect(t, 200, "")
		if !hasAMR(t, tok.str("access_token"), "otp") {
			t.Fatalf("amr %v", tokenClaims(t, tok.str("access_token"))["amr"])
		}
		h.verify(map[string]any{"type": "otp", "email": email, "code": code}).expect(t, 400, "auth.code_invalid")
		h.verify(map[string]any{"type": "magiclink", "token": magic}).expect(t, 400, "auth.code_invalid")

		// Five wrong codes burn the code and block the address for a while.
		h.clock.Advance(2 * time.Hour) // the throttles forget
		h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
		code = mailCode(t, h.awaitMail(email))
		for range 5 {
			h.verify(map[string]any{"type": "otp", "email": email, "code": wrong(code)}).expect(t, 400, "auth.code_invalid")
		}
		r := h.verify(map[string]any{"type": "otp", "email": email, "code": code}).expect(t, 429, "auth.too_many_attempts")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		h.clock.Advance(5 * time.Second)
		h.verify(map[string]any{"type": "otp", "email": email, "code": code}).expect(t, 400, "auth.code_invalid")

		// An unknown address fails the same way (once this IP may try again).
		h.clock.Advance(5 * time.Second)
		h.verify(map[string]any{"type": "otp", "email": "who@example.com", "code": code}).expect(t, 400, "auth.code_invalid")
	})
}

// TestMailRequestThrottle: asking for mails is throttled per address and
// per IP, with the same answers for known and unknown addresses.
func TestMailRequestThrottle(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("t@example.com", pw)
		recoverFrom := func(ip, email string) response {
			return h.callFrom(ip, "POST", "/v1/auth/recover", map[string]any{"email": email})
		}
		var answers [2]response
		for i, email := range []string{"t@example.com", "nobody@example.com"} {
			ip := []string{"203.0.113.1", "203.0.113.2"}[i]
			for range 5 {
				recoverFrom(ip, email).expect(t, 202, "")
			}
			answers[i] = recoverFrom(ip, email).expect(t, 429, "auth.too_many_attempts")
			if answers[i].Header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		}
		if answers[0].str("detail") != answers[1].str("detail") {
			t.Fatalf("answers differ:\n%s\n%s", answers[0].Raw, answers[1].Raw)
		}
		recoverFrom("203.0.113.3", "t@example.com").expect(t, 429, "auth.too_many_attempts")     // the address
		recoverFrom("203.0.113.1", "other@example.com").expect(t, 429, "auth.too_many_attempts") // the IP
		recoverFrom("203.0.113.3", "other@example.com").expect(t, 202, "")
		h.clock.Advance(2 * time.Hour)
		recoverFrom("203.0.113.1", "t@example.com").expect(t, 202, "")
	})
}

// callFrom is call as seen from client address ip (the gateway's
// X-Forwarded-For).
func (h *harness) callFrom(ip, method, path string, body any) response {
	h.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(b)}
	_ = json.Unmarshal(b, &out.Body)
	return out
}

// TestEmailChange: the change needs the current password (an access
// token alone could be stolen); the new address confirms, the old one is
// told; an address taken meanwhile is a conflict.
func TestEmailChange(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("old@example.com", pw)
		h.awaitMail("old@example.com")
		tok := h.signIn("old@example.com", pw).expect(t, 200, "")
		access := tok.str("access_token")

		h.call("PATCH", "/v1/auth/user", map[string]any{"email": "new@example.com"}, access).expect(t, 400, "auth.invalid_credentials")
		h.call("PATCH", "/v1/auth/user", map[string]any{"email": "new@example.com", "currentPassword": "a wrong guess"}, access).
			expect(t, 400, "auth.invalid_credentials")
		change := func(email string) response {
			return h.call("PATCH", "/v1/auth/user", map[string]any{"email": email, "currentPassword": pw}, access)
		}
		r := change("New@Example.com").expect(t, 200, "")
		if r.str("email") != "old@example.com" {
			t.Fatalf("changed before confirmation: %s", r.Raw)
		}
		_, token := mailLink(t, h.awaitMail("new@example.com"), "email_change")
		h.signUp("taken@example.com", pw)
		change("taken@example.com").expect(t, 409, "auth.email_taken")
		change("old@example.com").expect(t, 400, "auth.email_unchanged")
		change("not an email").expect(t, 400, "auth.invalid_email")

		u := h.verify(map[string]any{"type": "email_change", "token": token}).expect(t, 200, "")
		if u.str("email") != "new@example.com" || u.Body["emailVerified"] != true {
			t.Fatalf("after confirmation: %s", u.Raw)
		}
		notice := h.awaitMail("old@example.com")
		if !strings.Contains(notice.Text, "new@example.com") || !strings.Contains(notice.Subject, "changed") {
			t.Fatalf("notice %q:\n%s", notice.Subject, notice.Text)
		}
		h.verify(map[string]any{"type": "email_change", "token": token}).expect(t, 400, "auth.code_invalid")
		h.signIn("old@example.com", pw).expect(t, 400, "auth.invalid_credentials")
		h.signIn("new@example.com", pw).expect(t, 200, "")

		// Taken between the request and the confirmation.
		change("race@example.com").expect(t, 200, "")
		_, token = mailLink(t, h.awaitMail("race@example.com"), "email_change")
		h.signUp("race@example.com", pw)
		h.verify(map[string]any{"type": "email_change", "token": token}).expect(t, 409, "auth.email_taken")
		h.signIn("new@example.com", pw).expect(t, 200, "")
	})
}

// TestCodeSignInWithMFA: a code or link is a first factor only — a user
// with MFA gets the challenge, not tokens, from a magic link and from a
// password reset. (The address is verified first: a code signing in to an
// unverified account claims it, and the factor goes with the rest of what
// its registrant set up, TestMagicLinkClaimsUnverifiedAccount.)
func TestCodeSignInWithMFA(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "two@example.com"
		h.signUp(email, pw)
		_, verification := mailLink(t, h.awaitMail(email), "signup")
		h.verify(map[string]any{"type": "signup", "token": verification}).expect(t, 200, "")
		secret, _, _ := h.enrollTOTP(h.signIn(email, pw).expect(t, 200, "").str("access_token"))
		challenged := func(r response) string {
			t.Helper()
			if r.Body["mfa_required"] != true || r.str("access_token") != "" || r.str("refresh_token") != "" {
				t.Fatalf("no MFA challenge: %s", r.Raw)
			}
			return r.str("mfa_token")
		}

		h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
		_, token := mailLink(t, h.awaitMail(email), "magiclink")
		mfaToken := challenged(h.verify(map[string]any{"type": "magiclink", "token": token}).expect(t, 200, ""))
		h.clock.Advance(30 * time.Second) // a TOTP step the enrolment did not use
		tok := h.answer(mfaToken, map[string]any{"code": h.totp(secret)}).expect(t, 200, "")
		if amr, _ := tokenClaims(t, tok.str("access_token"))["amr"].([]any); len(amr) == 0 || amr[0] != "otp" ||
			!hasAMR(t, tok.str("access_token"), "totp") {
			t.Fatalf("amr = %v", amr)
		}

		h.call("POST", "/v1/auth/recover", map[string]any{"email": email}, "").expect(t, 202, "")
		_, token = mailLink(t, h.awaitMail(email), "recovery")
		challenged(h.verify(map[string]any{"type": "recovery", "token": token, "password": "a new password for two"}).
			expect(t, 200, ""))
		h.call("GET", "/v1/auth/user", nil, tok.str("access_token")).expect(t, 401, "auth.token_revoked")
		challenged(h.signIn(email, "a new password for two").expect(t, 200, ""))
	})
}
