package auth

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Throttle actions of this file's endpoints. Requests that send mail count
// per address and per IP (a "failure" here is a mail sent, so a flood of
// requests backs off however they are spread); wrong codes and links count
// per IP, and 6-digit codes also per address.
const (
	sendVerify      = "verify.send"
	sendRecover     = "recover.send"
	sendOTP         = "otp.send"
	sendEmailChange = "email_change.send"
)

// mailTimeout bounds one background mail job: the lookup, the code and the
// SMTP conversation.
const mailTimeout = 30 * time.Second

// queueVerification arranges the verification mail for u once tx commits:
// the code is stored in tx, the mail goes out after the commit, in the
// background, so a slow or failing mail server neither holds the
// transaction nor fails the sign-up (the user can ask for another mail).
func (s *Service) queueVerification(ctx context.Context, tx *store.Tx, u User) error {
	token, err := s.issueLink(ctx, tx, codeSignup, u.ID, u.Email)
	if err != nil {
		return err
	}
	d := mail.Data{To: u.Email, Link: s.link(codeSignup, token), Expires: codeTTL[codeSignup]}
	tx.OnCommit(func() {
		s.background(ctx, func(ctx context.Context) error { return s.sendMail(ctx, mail.VerifyEmail, d) })
	})
	return nil
}

// ResendVerification sends a new verification mail to email if it belongs
// to an unverified, enabled account. The answer is the same either way, and
// the lookup happens after answering.
func (s *Service) ResendVerification(ctx context.Context, email string) error {
	return s.mailAccount(ctx, sendVerify, email, mail.VerifyEmail,
		func(ctx context.Context, tx *store.Tx, u User) (mail.Data, bool, error) {
			if u.EmailVerified {
				return mail.Data{}, false, nil
			}
			token, err := s.issueLink(ctx, tx, codeSignup, u.ID, u.Email)
			return mail.Data{To: u.Email, Link: s.link(codeSignup, token), Expires: codeTTL[codeSignup]}, true, err
		})
}

// mailAccount is the shape of every endpoint that mails an account by
// address: the request only validates and counts throttles (acceptMailRequest,
// the same work for every address); after the answer, the enabled account
// with that address, if any, gets the mail compose prepares in a
// transaction (send false: nothing to send). Neither the answer nor its
// timing says whether the account exists.
func (s *Service) mailAccount(ctx context.Context, action, email string, kind mail.Kind,
	compose func(ctx context.Context, tx *store.Tx, u User) (d mail.Data, send bool, err error)) error {
	email, err := s.acceptMailRequest(ctx, action, email)
	if err != nil {
		return err
	}
	s.background(ctx, func(ctx context.Context) error {
		u, err := userByEmail(ctx, s.DB.SQL(), email)
		if err != nil || u.Disabled {
			return ignoreNotFound(err)
		}
		var (
			d    mail.Data
			send bool
		)
		err = s.DB.InTx(ctx, func(tx *store.Tx) (err error) {
			d, send, err = compose(ctx, tx, u)
			return err
		})
		if err != nil || !send {
			return err
		}
		return s.sendMail(ctx, kind, d)
	})
	return nil
}

// acceptMailRequest is the request path shared by the endpoints that mail
// an address: validate it, check and count the throttles. It does the
// same work whether or not an account has the address.
func (s *Service) acceptMailRequest(ctx context.Context, action, email string) (string, error) {
	email, err := checkEmail(email)
	if err != nil {
		return "", err
	}
	keys := []string{throttle.AccountKey(action, email), throttle.IPKey(action, clientFrom(ctx).IP)}
	if retry, err := s.Throttle.Check(ctx, keys...); err != nil {
		return "", err
	} else if retry > 0 {
		return "", tooManyAttempts(retry)
	}
	return email, s.Throttle.Fail(ctx, keys...)
}

// verifyEmail applies a signup verification link.
func (s *Service) verifyEmail(ctx context.Context, token string) (User, error) {
	var u User
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.useLink(ctx, tx, codeSignup, token)
		if err != nil {
			return err
		}
		if u, err = s.codeUser(ctx, tx, c); err != nil {
			return err
		}
		u, err = s.emailVerified(ctx, tx, u.ID, nil)
		return err
	})
	return u, err
}

// emailVerified records in tx that userID's address is verified (how:
// the audit's data) and announces the user as it now is.
func (s *Service) emailVerified(ctx context.Context, tx *store.Tx, userID string, how map[string]any) (User, error) {
	if err := markEmailVerified(ctx, tx, userID, s.now()); err != nil {
		return User{}, err
	}
	if err := s.audit(ctx, tx, userID, "email.verified", userID, how); err != nil {
		return User{}, err
	}
	u, err := s.loadUser(ctx, tx, userID)
	if err != nil {
		return User{}, err
	}
	return u, s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
}

// codeUser loads the user a code belongs to, refusing (as an invalid code)
// a disabled user or an address that changed since the code was sent.
func (s *Service) codeUser(ctx context.Context, q store.Querier, c code) (User, error) {
	u, err := s.loadUser(ctx, q, c.userID)
	if errs.CodeOf(err) == "auth.user_not_found" || (err == nil && (u.Disabled || (c.kind != codeEmailChange && u.Email != c.email))) {
		return User{}, errCodeInvalid
	}
	return u, err
}

// link is the URL a mail carries for a code of kind.
func (s *Service) link(kind, token string) string {
	q := url.Values{"type": {kind}, "token": {token}}
	return strings.TrimRight(s.opts.SiteURL, "/") + "/v1/auth/verify?" + q.Encode()
}

// sendMail renders and sends one mail.
func (s *Service) sendMail(ctx context.Context, kind mail.Kind, d mail.Data) error {
	m, err := mail.Render(kind, d)
	if err != nil {
		return err
	}
	return s.Mail.Send(ctx, m)
}

// background runs job after the caller has moved on — after a commit, or
// after answering a request whose answer must not depend on the job — with
// ctx's values (trace, client) but not its cancellation, and a timeout.
// Failures are logged, never returned. Drain waits for the jobs.
func (s *Service) background(ctx context.Context, job func(context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	s.tasks.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, mailTimeout)
		defer cancel()
		if err := job(ctx); err != nil {
			s.Log.WarnContext(ctx, "auth: mail job failed", "err", err)
		}
	})
}

// Drain waits until the mails being sent in the background are sent, or
// ctx ends. Call it before closing the database.
func (s *Service) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.tasks.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreNotFound(err error) error {
	if errs.CodeOf(err) == "auth.user_not_found" {
		return nil
	}
	return err
}

// verifyRoutes registers email verification, password recovery, one-time
// codes and magic links.
func (s *Service) verifyRoutes(r router) {
	r.public("POST /v1/auth/verify", s.handleVerify)
	r.public("GET /v1/auth/verify", s.handleVerifyLink)
	r.public("POST /v1/auth/verify/resend", s.handleResend)
	r.public("POST /v1/auth/recover", s.handleRecover)
	r.public("POST /v1/auth/otp", s.handleOTP)
}
