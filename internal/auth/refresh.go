package auth

import (
	"context"
	"errors"
	"time"

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
//
// A session started for an OAuth client (the code grant) refreshes only
// with that client: see RefreshWithClient (session_client.go).
func (s *Service) Refresh(ctx context.Context, token string) (TokenResponse, error) {
	return s.refresh(ctx, token, "")
}

// refresh is Refresh by client, the id of the client the caller
// authenticated as ("" when none). The rotation joins a batch
// (refresh_batch.go).
func (s *Service) refresh(ctx context.Context, token, client string) (TokenResponse, error) {
	j := &refreshJob{token: token, client: client, caller: clientFrom(ctx)}
	s.refresher.Do(ctx, j)
	return s.refreshAnswer(ctx, j)
}

// refreshAnswer is the answer to a done job.
func (s *Service) refreshAnswer(ctx context.Context, j *refreshJob) (TokenResponse, error) {
	if j.err != nil {
		return TokenResponse{}, j.err
	}
	r := j.r
	if r.revoked {
		s.deny.RevokeSession(r.sess.ID, s.now()) // this replica at once; others through the bus
		return TokenResponse{}, errRefreshReused
	}
	// Signing happens after the commit: the write transaction (on SQLite,
	// the one write lock) is held only for the database work.
	access, err := s.accessToken(ctx, r.user, r.roles, r.perms, r.sess, r.sess.ClientID, r.now)
	if err != nil {
		return TokenResponse{}, err
	}
	r.user.Roles = nonNil(r.roles)
	resp := TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.opts.AccessTokenTTL.Seconds()),
		RefreshToken: r.next, User: &r.user}
	if r.sess.ClientID != "" {
		resp.User = nil // as at the code exchange: an app gets the claims it asked for, not the profile
	}
	return resp, nil
}

// rotation is what one refresh decided inside its transaction.
type rotation struct {
	user         User
	sess         Session
	next         string   // the successor refresh token
	roles, perms []string // for the access token
	revoked      bool     // reuse detected: the session was revoked
	now          time.Time
}

// refreshable checks that rt, of session sess of user u, may be rotated
// at now by client (the client's id, "" for none).
func refreshable(rt refreshToken, sess Session, u User, client string, now time.Time) error {
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(rt.expiresAt) {
		return errRefreshInvalid
	}
	if err := sessionClientMatches(sess, client); err != nil {
		return err
	}
	if u.Disabled {
		return errRefreshInvalid
	}
	return nil
}

// rotate checks token and replaces it by its successor, or, on a reuse
// past the grace window, revokes the session. client is the id of the
// client the caller authenticated as ("" when none): a session started for
// a client needs it (RFC 6749 §6), checked before the token is spent.
// Refusals (errRefreshInvalid, errInvalidClient) come before any write.
func (s *Service) rotate(ctx context.Context, tx *store.Tx, token, client string, now time.Time) (rotation, error) {
	r := rotation{now: now}
	rt, err := refreshTokenByHash(ctx, tx, hashToken(token))
	if errors.Is(err, errNoRefreshToken) {
		return r, errRefreshInvalid
	}
	if err != nil {
		return r, err
	}
	if r.sess, err = sessionByID(ctx, tx, rt.sessionID); err != nil {
		return r, err
	}
	if r.user, err = userByID(ctx, tx, r.sess.UserID); errors.Is(err, errUserNotFound) {
		return r, errRefreshInvalid
	} else if err != nil {
		return r, err
	}
	if err := refreshable(rt, r.sess, r.user, client, now); err != nil {
		return r, err
	}
	first, err := markRefreshTokenUsed(ctx, tx, rt.hash, now)
	if err != nil {
		return r, err
	}
	if !first { // used before: a concurrent tab, or a replay
		if rt, err = refreshTokenByHash(ctx, tx, rt.hash); err != nil { // when, exactly
			return r, err
		}
		if rt.usedAt == nil || now.Sub(*rt.usedAt) > s.opts.RefreshReuseGrace {
			return r, s.revokeReused(ctx, tx, &r)
		}
	}
	r.next = s.successor(token)
	if err := insertRefreshToken(ctx, tx, hashToken(r.next), r.sess.ID, now, r.sess.ExpiresAt); err != nil {
		return r, err
	}
	if err := touchSession(ctx, tx, r.sess.ID, now); err != nil {
		return r, err
	}
	r.roles, r.perms, err = rolesOf(ctx, tx, r.user.ID)
	return r, err
}

// revokeReused ends a session whose refresh token was replayed, records it
// and announces it; the caller commits, then answers with the error.
func (s *Service) revokeReused(ctx context.Context, tx *store.Tx, r *rotation) error {
	ids, err := revokeSessions(ctx, tx, r.user.ID, []string{r.sess.ID}, "refresh_token_reused", r.now)
	if err != nil {
		return err
	}
	if err := s.audit(ctx, tx, r.user.ID, "refresh_token.reused", r.sess.ID, nil); err != nil {
		return err
	}
	r.revoked = true
	if len(ids) == 0 {
		return nil // already revoked by a concurrent reuse
	}
	return s.emit(ctx, tx, EventSessionRevoked, r.sess.ID, SessionRevokedEvent{SID: r.sess.ID, Sub: r.user.ID})
}
