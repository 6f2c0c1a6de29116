package auth

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// requestEmailChange starts changing u's address to newEmail: a
// confirmation link goes to the new address, and the account keeps the old
// one until it is opened. An address another account has is refused (409),
// as at sign-up; the throttle bounds probing.
func (s *Service) requestEmailChange(ctx context.Context, u User, newEmail string) error {
	email, err := checkEmail(newEmail)
	if err != nil {
		return err
	}
	if email == u.Email {
		return errs.E(errs.Invalid, "auth.email_unchanged", "this is already the account's email address").
			WithField("email", "unchanged", "already the account's address")
	}
	keys := []string{throttle.AccountKey(sendEmailChange, u.ID), throttle.IPKey(sendEmailChange, clientFrom(ctx).IP)}
	if retry, err := s.Throttle.Check(ctx, keys...); err != nil {
		return err
	} else if retry > 0 {
		return tooManyAttempts(retry)
	}
	if err := s.Throttle.Fail(ctx, keys...); err != nil {
		return err
	}
	if _, err := userByEmail(ctx, s.DB.SQL(), email); err == nil {
		return errEmailTaken()
	} else if errs.CodeOf(err) != "auth.user_not_found" {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		token, err := s.issueLink(ctx, tx, codeEmailChange, u.ID, email)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ID, "email.change_requested", u.ID, map[string]any{"to": email}); err != nil {
			return err
		}
		d := mail.Data{To: email, Link: s.link(codeEmailChange, token), Expires: codeTTL[codeEmailChange]}
		tx.OnCommit(func() {
			s.background(ctx, func(ctx context.Context) error { return s.sendMail(ctx, mail.VerifyEmail, d) })
		})
		return nil
	})
}

// confirmEmailChange applies an email change link: the account takes the
// new address, verified (the link reached it), unless another account took
// it meanwhile (409). The old address is told.
func (s *Service) confirmEmailChange(ctx context.Context, token string) (User, error) {
	var u User
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.useLink(ctx, tx, codeEmailChange, token)
		if err != nil {
			return err
		}
		if u, err = s.codeUser(ctx, tx, c); err != nil {
			return err
		}
		old := u.Email
		if err := setEmail(ctx, tx, u.ID, c.email, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ID, "email.changed", u.ID, map[string]any{"from": old, "to": c.email}); err != nil {
			return err
		}
		if u, err = s.loadUser(ctx, tx, u.ID); err != nil {
			return err
		}
		notice := mail.Data{To: old, NewEmail: u.Email}
		tx.OnCommit(func() {
			s.background(ctx, func(ctx context.Context) error { return s.sendMail(ctx, mail.EmailChanged, notice) })
		})
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
	return u, err
}

// setEmail gives a user a new, verified address; one already taken is
// auth.email_taken.
func setEmail(ctx context.Context, tx *store.Tx, userID, email string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE auth_users SET email = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3`,
		email, now, userID)
	if store.IsUniqueViolation(err) {
		return errEmailTaken()
	}
	return err
}

func errEmailTaken() error {
	return errs.E(errs.Conflict, "auth.email_taken", "an account with this email already exists").
		WithField("email", "taken", "already registered")
}
