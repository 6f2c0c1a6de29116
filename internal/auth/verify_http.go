package auth

import (
	"context"
	"html/template"
	"mime"
	"net/http"
	"strings"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// VerifyRequest is the body of POST /v1/auth/verify (JSON or a form):
//
//	{type: "signup", token}                 verify an address → the user
//	{type: "email_change", token}           confirm a new address → the user
//	{type: "recovery", token, password}     reset the password → tokens (all other sessions end)
//	{type: "magiclink", token}              sign in → tokens (amr otp)
//	{type: "otp", email, code}              sign in with the 6-digit code → tokens (amr otp)
//
// Sign-ins of users with MFA answer the MFA challenge instead of tokens.
type VerifyRequest struct {
	Type     string `json:"type"`
	Token    string `json:"token,omitempty"`
	Email    string `json:"email,omitempty"`
	Code     string `json:"code,omitempty"`
	Password string `json:"password,omitempty"`
}

// Verify applies a code or link; the answer is a User or a TokenResponse
// (see VerifyRequest). Every bad code or link — unknown, used, expired,
// burned, of another type — is auth.code_invalid, and counts against the
// caller's IP.
func (s *Service) Verify(ctx context.Context, req VerifyRequest) (any, error) {
	if req.Type == codeOTP {
		return s.signInWithOTP(ctx, req.Email, req.Code)
	}
	key := throttle.IPKey(throttle.Verify, clientFrom(ctx).IP)
	if retry, err := s.Throttle.Check(ctx, key); err != nil {
		return nil, err
	} else if retry > 0 {
		return nil, tooManyAttempts(retry)
	}
	var (
		out any
		err error
	)
	switch req.Type {
	case codeSignup:
		out, err = s.verifyEmail(ctx, req.Token)
	case codeEmailChange:
		out, err = s.confirmEmailChange(ctx, req.Token)
	case codeRecovery:
		out, err = s.resetPassword(ctx, req.Token, req.Password, true)
	case codeMagicLink:
		out, err = s.signInWithLink(ctx, req.Token)
	default:
		return nil, errs.E(errs.Invalid, "auth.invalid_verify_type",
			"type must be signup, email_change, recovery, magiclink or otp").
			WithField("type", "invalid", "signup, email_change, recovery, magiclink or otp")
	}
	if isCodeInvalid(err) {
		return nil, s.codeFailed(ctx, key)
	}
	return out, err
}

func (s *Service) handleVerify(w http.ResponseWriter, r *http.Request) {
	req, err := decodeVerifyRequest(w, r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if wantsHTML(r) && req.Type == codeRecovery { // the built-in reset form
		if _, err := s.resetPasswordForm(r.Context(), req); err != nil {
			retryAfterHeader(w, err)
			writePage(w, r, httpx.ProblemOf(r, err).Status, page{Title: "Password not changed", Message: errMessage(r, err)})
			return
		}
		writePage(w, r, http.StatusOK, page{Title: "Password changed",
			Message: "Your password was changed and every session signed out. Sign in with the new password."})
		return
	}
	out, err := s.Verify(r.Context(), req)
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, out)
}

// resetPasswordForm is the recovery of the built-in form: the same checks,
// but no session starts in a page that could not use it.
func (s *Service) resetPasswordForm(ctx context.Context, req VerifyRequest) (TokenResponse, error) {
	key := throttle.IPKey(throttle.Verify, clientFrom(ctx).IP)
	if retry, err := s.Throttle.Check(ctx, key); err != nil {
		return TokenResponse{}, err
	} else if retry > 0 {
		return TokenResponse{}, tooManyAttempts(retry)
	}
	resp, err := s.resetPassword(ctx, req.Token, req.Password, false)
	if isCodeInvalid(err) {
		return resp, s.codeFailed(ctx, key)
	}
	return resp, err
}

// handleVerifyLink serves the links in mails. Verification and email
// change links apply at once and answer a short page (or JSON for API
// clients); recovery and magic links only show a form that POSTs, so a
// mail scanner fetching the link does not spend it. HEAD never spends.
func (s *Service) handleVerifyLink(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := VerifyRequest{Type: q.Get("type"), Token: q.Get("token")}
	if r.Method == http.MethodHead {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	switch req.Type {
	case codeRecovery:
		writePage(w, r, http.StatusOK, page{Title: "Choose a new password", Form: true, Type: req.Type,
			Token: req.Token, Password: true, Button: "Set password"})
		return
	case codeMagicLink:
		writePage(w, r, http.StatusOK, page{Title: "Sign in", Form: true, Type: req.Type, Token: req.Token,
			Button: "Sign in"})
		return
	case codeSignup, codeEmailChange:
	default:
		httpx.WriteError(w, r, errs.E(errs.Invalid, "auth.invalid_verify_type",
			"type must be signup, email_change, recovery or magiclink"))
		return
	}
	out, err := s.Verify(r.Context(), req)
	if !wantsHTML(r) {
		if err != nil {
			retryAfterHeader(w, err)
			httpx.WriteError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		_ = httpx.WriteJSON(w, http.StatusOK, out)
		return
	}
	if err != nil {
		retryAfterHeader(w, err)
		writePage(w, r, httpx.ProblemOf(r, err).Status, page{Title: "Link not valid", Message: errMessage(r, err)})
		return
	}
	msg := "Your email address is confirmed. You can close this page."
	if req.Type == codeEmailChange {
		msg = "Your new email address is confirmed and now signs you in. You can close this page."
	}
	writePage(w, r, http.StatusOK, page{Title: "Email confirmed", Message: msg})
}

// emailRequest is the body of the endpoints that mail an address.
type emailRequest struct {
	Email string `json:"email"`
}

// mailAccepted is the one answer of those endpoints, whether or not an
// account has the address.
type mailAccepted struct {
	Message string `json:"message"`
}

func (s *Service) handleResend(w http.ResponseWriter, r *http.Request) {
	s.handleMailRequest(w, r, s.ResendVerification,
		"If an account with an unverified address exists for this email, a verification mail is on its way.")
}

func (s *Service) handleRecover(w http.ResponseWriter, r *http.Request) {
	s.handleMailRequest(w, r, s.Recover,
		"If an account exists for this email, a mail with a link to reset the password is on its way.")
}

func (s *Service) handleOTP(w http.ResponseWriter, r *http.Request) {
	s.handleMailRequest(w, r, s.SendOTP,
		"If an account exists for this email, a mail with a sign-in code and link is on its way.")
}

func (s *Service) handleMailRequest(w http.ResponseWriter, r *http.Request, fn func(context.Context, string) error, msg string) {
	var req emailRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := fn(r.Context(), req.Email); err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusAccepted, mailAccepted{Message: msg})
}

// decodeVerifyRequest reads a JSON or form-encoded body, size-limited.
func decodeVerifyRequest(w http.ResponseWriter, r *http.Request) (VerifyRequest, error) {
	var req VerifyRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return req, httpx.DecodeJSON(w, r, &req)
	}
	f, err := readForm(w, r)
	if err != nil {
		return req, err
	}
	return VerifyRequest{Type: f.Get("type"), Token: f.Get("token"), Email: f.Get("email"), Code: f.Get("code"),
		Password: f.Get("password")}, nil
}

// wantsHTML reports whether the caller is a browser rather than an API client.
func wantsHTML(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") }

func errMessage(r *http.Request, err error) string { return httpx.ProblemOf(r, err).Detail }

// page is one of the small pages the links in mails open.
type page struct {
	Title, Message string
	Form, Password bool
	Type, Token    string
	Button         string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222; max-width: 30em; margin: 3em auto; padding: 0 1em">
<h1 style="font-size: 1.4em">{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>{{end}}
{{if .Form}}<form method="post" action="/v1/auth/verify">
<input type="hidden" name="type" value="{{.Type}}"><input type="hidden" name="token" value="{{.Token}}">
{{if .Password}}<p><label>New password<br><input type="password" name="password" autocomplete="new-password" minlength="8" required></label></p>{{end}}
<p><button type="submit">{{.Button}}</button></p>
</form>{{end}}
</body></html>
`))

// writePage answers a page that can do nothing but show itself and post
// its form back here, and that leaks no token through Referer or caches.
func writePage(w http.ResponseWriter, _ *http.Request, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, p) // a failure here is a client gone away
}
