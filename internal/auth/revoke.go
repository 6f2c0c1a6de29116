package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/bamhq/bam/internal/errs"
)

// RevokeToken is token revocation (RFC 7009): a refresh token or an access
// token ends the session it belongs to, announced like a sign-out. An
// unknown, expired or already revoked token is not an error (§2.2): the
// caller's goal, that the token no longer works, is met.
// token_type_hint is only a hint: both kinds are recognised by their shape.
// A client that authenticated (client, not "") revokes only tokens issued
// to it (§2.1); another's is left alone, with the same answer.
func (s *Service) RevokeToken(ctx context.Context, token, client string) error {
	if strings.HasPrefix(token, refreshPrefix) {
		rt, err := refreshTokenByHash(ctx, s.DB.SQL(), hashToken(token))
		if errors.Is(err, errNoRefreshToken) {
			return nil
		}
		if err != nil {
			return err
		}
		sess, err := sessionByID(ctx, s.DB.SQL(), rt.sessionID)
		if err != nil {
			return err
		}
		return s.revokeIfActive(ctx, sess, client)
	}
	p, err := s.verifier.Verify(ctx, token)
	if err != nil || p.SessionID == "" {
		return nil // invalid, expired, or a token without a session (service accounts expire on their own)
	}
	sess, err := sessionByID(ctx, s.DB.SQL(), p.SessionID)
	if err != nil {
		return nil
	}
	return s.revokeIfActive(ctx, sess, client)
}

// revokeIfActive ends sess unless it has ended, or client (when not "")
// is not the client it was started for.
func (s *Service) revokeIfActive(ctx context.Context, sess Session, client string) error {
	if sess.RevokedAt != nil || (client != "" && sess.ClientID != client) {
		return nil
	}
	return s.revoke(ctx, sess.UserID, []string{sess.ID}, "token_revoked")
}

// handleRevoke is POST /v1/auth/revoke (form: token, token_type_hint). A
// client that authenticates must do so correctly; anyone holding a token
// may revoke it.
func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err == nil && form.Get("token") == "" {
		err = errs.E(errs.Invalid, "auth.invalid_request", "token is required").WithField("token", "required", "the token to revoke")
	}
	client := ""
	if err == nil {
		var cc clientCredentials
		if cc, err = formClient(r, form); err == nil && cc.Secret != "" {
			if _, err = s.authenticateClient(r.Context(), cc, false); err == nil {
				client = cc.ID
			}
		}
	}
	if err == nil {
		err = s.RevokeToken(r.Context(), form.Get("token"), client)
	}
	if err != nil {
		writeTokenError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
