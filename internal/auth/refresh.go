package auth

import (
	"context"
	"errors"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

var (
	errRefreshInvalid = errs.E(errs.Invalid, "auth.refresh_token_invalid", "the refresh token is invalid, expired or revoked")
	errRefreshReused  = errs.E(errs.Invalid, "auth.refresh_token_reused",
		"this refresh token was already used; the session has been signed out for safety")
)

// Refresh is the refresh_token grant. Each refresh token works once: it is
// replaced by its successor. Presented again within the grace window (two
// tabs refreshing at once), it yields the same successor; after the
// window, reuse means the token leaked, and the whole session — every
// token descended from that sign-in — is revoked.
func (s *Service) Refresh(ctx context.Context, token string) (TokenResponse, error) {
	var (
		resp    TokenResponse
		revoked *SessionRevokedEvent
		reused  bool
	)
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		revoked, reused = nil, false
		now := s.now()
		rt, err := refreshTokenByHash(ctx, tx, hashToken(token))
		if errors.Is(err, errNoRefreshToken) {
			return errRefreshInvalid
		}
		if err != nil {
			return err
		}
		sess, err := sessionByID(ctx, tx, rt.sessionID)
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(rt.expiresAt) {
			return errRefreshInvalid
		}
		u, err := userByID(ctx, tx, sess.UserID)
		if err != nil || u.Disabled {
			return errRefreshInvalid
		}
		next := s.successor(token)
		first, err := markRefreshTokenUsed(ctx, tx, rt.hash, now)
		if err != nil {
			return err
		}
		if !first { // used before: a concurrent tab, or a replay
			if rt, err = refreshTokenByHash(ctx, tx, rt.hash); err != nil { // when, exactly
				return err
			}
			usedAt := rt.usedAt
			if usedAt == nil || now.Sub(*usedAt) > s.opts.RefreshReuseGrace {
				ids, err := revokeSessions(ctx, tx, u.ID, []string{sess.ID}, "refresh_token_reused", now)
				if err != nil {
					return err
				}
				if err := s.audit(ctx, tx, u.ID, "refresh_token.reused", sess.ID, nil); err != nil {
					return err
				}
				if len(ids) > 0 {
					revoked = &SessionRevokedEvent{SID: sess.ID, Sub: u.ID}
					if err := s.emit(ctx, tx, EventSessionRevoked, sess.ID, revoked); err != nil {
						return err
					}
				}
				reused = true
				return nil // commit the revocation, then answer with the error
			}
		}
		if err := insertRefreshToken(ctx, tx, hashToken(next), sess.ID, now, sess.ExpiresAt); err != nil {
			return err
		}
		if err := touchSession(ctx, tx, sess.ID, now); err != nil {
			return err
		}
		resp, err = s.tokenResponse(ctx, tx, u, sess, next, now)
		return err
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if revoked != nil {
		s.deny.RevokeSession(revoked.SID, s.now()) // this replica at once; others through the bus
	}
	if reused {
		return TokenResponse{}, errRefreshReused
	}
	return resp, nil
}
