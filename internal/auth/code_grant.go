package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

var (
	errAuthCodeInvalid = errs.E(errs.Invalid, "auth.auth_code_invalid",
		"the authorization code is invalid, expired or used, or does not match the client, redirect_uri or code_verifier")
	errAuthCodeReused = errs.E(errs.Invalid, "auth.auth_code_reused",
		"this authorization code was already used; the tokens issued for it have been revoked")
)

// codeGrant is a token request with grant_type=authorization_code.
type codeGrant struct {
	Code, RedirectURI, Verifier string
	client                      clientCredentials
	clientErr                   error // the credentials could not be read (clientCredentialsOf)
}

func codeGrantOf(r *http.Request, req tokenRequest) codeGrant {
	cc, err := clientCredentialsOf(r, req)
	return codeGrant{Code: req.Code, RedirectURI: req.RedirectURI, Verifier: req.CodeVerifier, client: cc, clientErr: err}
}

// ExchangeCode is the authorization_code grant (RFC 6749 §4.1.3): it checks
// the client, the code, the redirect URI and the PKCE verifier, and starts
// a session for the user who authorized, with an id_token when the scope
// has openid. A code works once: a failed attempt spends it, and a second
// exchange revokes the session the first one started (RFC 6749 §4.1.2).
func (s *Service) ExchangeCode(ctx context.Context, g codeGrant) (TokenResponse, error) {
	if g.clientErr != nil {
		return TokenResponse{}, g.clientErr
	}
	c, err := s.authenticateClient(ctx, g.client, true)
	if err != nil {
		return TokenResponse{}, err
	}
	if c.Kind != oauthAppKind {
		return TokenResponse{}, errs.E(errs.Invalid, "auth.unauthorized_client",
			"this client may not use the authorization_code grant")
	}
	var (
		resp    TokenResponse
		fail    error
		revoked *SessionRevokedEvent
	)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		resp, fail, revoked = TokenResponse{}, nil, nil
		now, hash := s.now(), hashToken(g.Code)
		if _, err := grantRowByHash(ctx, tx, hash, kindAuthorizationCode); errors.Is(err, errNoGrantRow) {
			fail = errAuthCodeInvalid
			return nil
		} else if err != nil {
			return err
		}
		first, err := spendGrantRow(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		row, err := grantRowByHash(ctx, tx, hash, kindAuthorizationCode) // as the winner left it
		if err != nil {
			return err
		}
		var ac authorizedCode
		if err := json.Unmarshal(row.Data, &ac); err != nil {
			return err
		}
		if !first {
			fail = errAuthCodeReused
			revoked, err = s.revokeCodeSession(ctx, tx, row.UserID, ac, now)
			return err // commit the revocation, then answer with the error
		}
		if !now.Before(row.ExpiresAt) || ac.ClientID != c.ID || !redirectMatches(ac, g.RedirectURI) ||
			!verifierMatches(ac, g.Verifier) {
			fail = errAuthCodeInvalid // the code stays spent
			return nil
		}
		resp, ac.Issued, err = s.issueForCode(ctx, tx, row.UserID, ac, now)
		if errors.Is(err, errAuthCodeInvalid) {
			fail, err = err, nil
		}
		if err != nil || fail != nil {
			return err
		}
		return setGrantRowData(ctx, tx, hash, ac)
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if revoked != nil {
		s.deny.RevokeSession(revoked.SID, s.now()) // this replica at once; others through the bus
	}
	if fail != nil {
		return TokenResponse{}, fail
	}
	return resp, nil
}

// redirectMatches applies RFC 6749 §4.1.3: a redirect_uri sent to the
// authorization endpoint must be sent again, identical.
func redirectMatches(ac authorizedCode, got string) bool {
	if ac.RedirectSent || got != "" {
		return got == ac.RedirectURI
	}
	return true
}

// verifierMatches checks PKCE: a code issued with a challenge needs its
// verifier, and a verifier sent for a code without one is refused (RFC
// 9700 §2.1.1: it would hide a downgrade).
func verifierMatches(ac authorizedCode, verifier string) bool {
	if ac.Challenge == "" {
		return verifier == ""
	}
	return pkceMatches(verifier, ac.Challenge)
}

// issueForCode starts the client's session for the user of a valid code.
func (s *Service) issueForCode(ctx context.Context, tx *store.Tx, userID string, ac authorizedCode, now time.Time) (TokenResponse, string, error) {
	origin, err := sessionByID(ctx, tx, ac.SessionID)
	if err != nil || origin.RevokedAt != nil { // signed out between authorize and exchange
		return TokenResponse{}, "", errAuthCodeInvalid
	}
	u, err := userByID(ctx, tx, userID)
	if err != nil || u.Disabled {
		return TokenResponse{}, "", errAuthCodeInvalid
	}
	// The access token names the client it was issued to.
	resp, sess, err := s.startClientSession(ctx, tx, u, ac.AMR, ac.AAL, ac.ClientID, ac.Scope)
	if err != nil {
		return TokenResponse{}, "", err
	}
	if hasScope(ac.Scope, "openid") {
		if resp.IDToken, err = s.idToken(ctx, u, sess, ac, resp.AccessToken, now); err != nil {
			return TokenResponse{}, "", err
		}
	}
	resp.Scope, resp.User = ac.Scope, nil // the app gets claims it asked for, not the whole profile
	return resp, sess.ID, s.audit(ctx, tx, u.ID, "oauth.code_exchanged", ac.ClientID, map[string]any{"sid": sess.ID})
}

// revokeCodeSession ends the session a replayed code started, if it is
// still active.
func (s *Service) revokeCodeSession(ctx context.Context, tx *store.Tx, userID string, ac authorizedCode, now time.Time) (*SessionRevokedEvent, error) {
	if err := s.audit(ctx, tx, userID, "oauth.code_reused", ac.ClientID, map[string]any{"sid": ac.Issued}); err != nil {
		return nil, err
	}
	if ac.Issued == "" {
		return nil, nil
	}
	ids, err := revokeSessions(ctx, tx, userID, []string{ac.Issued}, "authorization_code_reused", now)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ev := &SessionRevokedEvent{SID: ac.Issued, Sub: userID}
	return ev, s.emit(ctx, tx, EventSessionRevoked, ac.Issued, ev)
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}
