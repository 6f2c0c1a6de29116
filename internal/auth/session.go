package auth

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Logout scopes.
const (
	ScopeLocal  = "local"  // this session
	ScopeGlobal = "global" // every session of the user
)

// Logout ends the caller's session (local) or all their sessions (global).
// The revocation is announced on the bus, so every replica's deny-list
// rejects the caller's access tokens within a second, not at expiry. An
// OAuth app may end its own session only.
func (s *Service) Logout(ctx context.Context, p *authn.Principal, scope string) error {
	if p.Kind != authn.KindUser || p.SessionID == "" {
		return errs.E(errs.Invalid, "auth.no_session", "this token has no session to sign out of")
	}
	var ids []string
	switch scope {
	case "", ScopeLocal:
		ids = []string{p.SessionID}
	case ScopeGlobal:
		if err := firstParty(p); err != nil {
			return err
		}
	default:
		return errs.E(errs.Invalid, "auth.invalid_scope", "scope must be local or global").
			WithField("scope", "invalid", "local or global")
	}
	return s.revoke(ctx, p.Subject, ids, "logout")
}

// revoke ends sessions of userID (all when ids is empty), records it and
// announces it.
func (s *Service) revoke(ctx context.Context, userID string, ids []string, why string) error {
	now := s.now()
	var revoked []string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		revoked, err = revokeSessions(ctx, tx, userID, ids, why, now)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, userID, "session.revoked", userID, map[string]any{"sessions": revoked, "why": why}); err != nil {
			return err
		}
		// One event per session, not one for the whole user: a subject-wide
		// revocation would also reject a sign-in made in the same second.
		for _, sid := range revoked {
			if err := s.emit(ctx, tx, EventSessionRevoked, sid, SessionRevokedEvent{SID: sid, Sub: userID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sid := range revoked { // this replica at once; the others through the bus
		s.deny.RevokeSession(sid, now)
	}
	return nil
}

// Sessions lists the caller's active sessions, marking the current one.
func (s *Service) Sessions(ctx context.Context, p *authn.Principal) ([]Session, error) {
	if p.Kind != authn.KindUser || p.SessionID == "" {
		return nil, errs.E(errs.Forbidden, "auth.not_a_user", "only a user's own token can list sessions")
	}
	if err := firstParty(p); err != nil {
		return nil, err
	}
	list, err := activeSessions(ctx, s.DB.SQL(), p.Subject, s.now())
	for i := range list {
		list[i].Current = list[i].ID == p.SessionID
	}
	return list, err
}

// RevokeSession ends one of the caller's sessions (a lost device).
func (s *Service) RevokeSession(ctx context.Context, p *authn.Principal, sid string) error {
	if p.Kind != authn.KindUser || p.SessionID == "" {
		return errs.E(errs.Forbidden, "auth.not_a_user", "only a user's own token can end sessions")
	}
	if err := firstParty(p); err != nil {
		return err
	}
	sess, err := sessionByID(ctx, s.DB.SQL(), sid)
	if err != nil || sess.UserID != p.Subject {
		return errs.E(errs.NotFound, "auth.session_not_found", "no such session")
	}
	return s.revoke(ctx, p.Subject, []string{sid}, "revoked_by_user")
}

// revokeAllSessions ends every session of userID inside tx and announces
// each; this replica's deny-list learns them when tx commits. For taking
// an account back from whoever held it before (a password set by the
// CLI, an unverified account claimed by the address's owner).
func (s *Service) revokeAllSessions(ctx context.Context, tx *store.Tx, userID, why string, now time.Time) error {
	revoked, err := revokeSessions(ctx, tx, userID, nil, why, now)
	if err != nil {
		return err
	}
	for _, sid := range revoked {
		if err := s.emit(ctx, tx, EventSessionRevoked, sid, SessionRevokedEvent{SID: sid, Sub: userID}); err != nil {
			return err
		}
	}
	tx.OnCommit(func() {
		for _, sid := range revoked {
			s.deny.RevokeSession(sid, now)
		}
	})
	return s.audit(ctx, tx, userID, "session.revoked", userID, map[string]any{"sessions": revoked, "why": why})
}
