package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// Sessions bound to an OAuth client. A session the authorization code
// grant starts records its client (auth_sessions.client_id): refreshing it
// needs that client, authenticated like at the code exchange (RFC 6749 §6,
// §10.4), the refreshed access token names it, and deleting the app
// revokes its sessions. Sessions of bam's own sign-ins have no client and
// refresh as before.

// refreshGrant is the token endpoint's refresh_token case: client
// credentials from HTTP Basic or the body, when sent.
func (s *Service) refreshGrant(r *http.Request, req tokenRequest) (TokenResponse, error) {
	cc, err := clientCredentialsOf(r, req)
	if err != nil {
		return TokenResponse{}, err
	}
	return s.RefreshWithClient(r.Context(), req.RefreshToken, cc.ID, cc.Secret)
}

// RefreshWithClient is Refresh by a client: clientID and, for a
// confidential client, its secret ("" and "" for none). Credentials that
// are sent must be right (invalid_client). A session started for a client
// refreshes only with that client: none is invalid_client, another
// invalid_grant; a session without a client ignores the client.
func (s *Service) RefreshWithClient(ctx context.Context, token, clientID, secret string) (TokenResponse, error) {
	if clientID == "" && secret == "" {
		return s.refresh(ctx, token, "")
	}
	c, err := s.authenticateClient(ctx, clientCredentials{ID: clientID, Secret: secret}, true)
	if err != nil {
		return TokenResponse{}, err
	}
	return s.refresh(ctx, token, c.ID)
}

// sessionClientMatches checks the client a refresh authenticated as
// ("" when none) against the one sess was started for.
func sessionClientMatches(sess Session, client string) error {
	switch {
	case sess.ClientID == "" || sess.ClientID == client:
		return nil
	case client == "":
		return errInvalidClient // RFC 6749 §6: the client must authenticate
	default:
		return errRefreshInvalid // issued to another client: invalid_grant (§5.2)
	}
}

// revokeClientSessions ends every active session started for clientID,
// recording and announcing each, and returns their ids: the caller updates
// the deny-list after the commit.
func (s *Service) revokeClientSessions(ctx context.Context, tx *store.Tx, actor, clientID, why string, now time.Time) ([]string, error) {
	if clientID == "" { // "" is every session of bam's own sign-ins
		return nil, nil
	}
	active, err := activeClientSessions(ctx, tx, clientID, now)
	if err != nil {
		return nil, err
	}
	var revoked []string
	for _, sess := range active {
		res, err := tx.ExecContext(ctx, `UPDATE auth_sessions SET revoked_at = $1, revoked_why = $2
			WHERE id = $3 AND revoked_at IS NULL`, now, why, sess.ID)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			continue
		}
		if err := s.audit(ctx, tx, actor, "session.revoked", sess.UserID,
			map[string]any{"sessions": []string{sess.ID}, "why": why, "client": clientID}); err != nil {
			return nil, err
		}
		if err := s.emit(ctx, tx, EventSessionRevoked, sess.ID, SessionRevokedEvent{SID: sess.ID, Sub: sess.UserID}); err != nil {
			return nil, err
		}
		revoked = append(revoked, sess.ID)
	}
	return revoked, nil
}

// activeClientSessions lists the sessions of clientID that are neither
// revoked nor expired.
func activeClientSessions(ctx context.Context, q store.Querier, clientID string, now time.Time) ([]Session, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM auth_sessions
		WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2`, clientID, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}
