package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// accessClaims is what an access token carries: RFC 9068 claims plus bam's
// roles and permissions. internal/authn verifies exactly this shape.
type accessClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      []string `json:"aud"`
	Expiry        int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	NotBefore     int64    `json:"nbf"`
	ID            string   `json:"jti"`
	SessionID     string   `json:"sid,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	Kind          string   `json:"kind"`
	Roles         []string `json:"roles"`
	Permissions   []string `json:"permissions"`
	Scope         string   `json:"scope,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	AMR           []string `json:"amr,omitempty"`
	AAL           string   `json:"aal,omitempty"`
}

// refreshPrefix marks bam refresh tokens, so secret scanners and people
// can tell them from access tokens and API keys.
const refreshPrefix = "bamr_"

// accessToken signs an access token for u in session sess, naming the
// OAuth client it is issued to (clientID, "" for bam's own clients), with
// the roles and permissions u has now. A token for an OAuth client carries
// no roles or permissions, only the scope granted to it (clientScope).
func (s *Service) accessToken(ctx context.Context, u User, roles, perms []string, sess Session, clientID string, now time.Time) (string, error) {
	scope := strings.Join(perms, " ")
	if clientID != "" || sess.ClientID != "" {
		roles, perms, scope = nil, nil, sess.Scope
	}
	return s.Keys.Sign(ctx, accessClaims{
		Issuer: s.opts.Issuer, Subject: u.ID, Audience: []string{s.opts.Audience},
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(s.opts.AccessTokenTTL).Unix(),
		ID: newID(), SessionID: sess.ID, ClientID: clientID, Kind: KindUser,
		Roles: nonNil(roles), Permissions: nonNil(perms), Scope: scope,
		Email: u.Email, EmailVerified: u.EmailVerified, AMR: sess.AMR, AAL: sess.AAL,
	})
}

// successor is the refresh token that replaces token: an HMAC of it under a
// server secret. Deriving it (rather than drawing a random one) is what lets
// a token presented twice within the grace window get the same new token
// back, while only hashes are ever stored.
func (s *Service) successor(token string) string {
	mac := hmac.New(sha256.New, s.refreshKey)
	mac.Write([]byte(token))
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// startSession creates a session for u and its first refresh token, and
// returns the token response.
func (s *Service) startSession(ctx context.Context, tx *store.Tx, u User, amr []string, aal string) (TokenResponse, error) {
	resp, _, err := s.startClientSession(ctx, tx, u, amr, aal, "", "")
	return resp, err
}

// startClientSession is startSession for an OAuth client (its id goes in
// the access token, with the granted scope), also returning the session.
// The client gets a refresh token only when offline_access was granted.
func (s *Service) startClientSession(ctx context.Context, tx *store.Tx, u User, amr []string, aal, clientID, scope string) (TokenResponse, Session, error) {
	now := s.now()
	c := clientFrom(ctx)
	sess := Session{ID: newID(), UserID: u.ID, AAL: aal, AMR: amr, IP: c.IP, UserAgent: c.UserAgent,
		CreatedAt: now, RefreshedAt: now, ExpiresAt: now.Add(s.opts.SessionTTL), ClientID: clientID, Scope: scope}
	refresh, refreshHash := "", ""
	if clientID == "" || hasScope(scope, "offline_access") {
		refresh = randomToken(refreshPrefix)
		refreshHash = hashToken(refresh)
	}
	roles, perms, err := insertNewSession(ctx, tx, sess, refreshHash,
		s.auditValues(ctx, u.ID, "session.created", sess.ID, map[string]any{"amr": amr}))
	if err != nil {
		return TokenResponse{}, Session{}, err
	}
	if err := s.emit(ctx, tx, EventSessionCreated, sess.ID,
		SessionEvent{SID: sess.ID, Sub: u.ID, AMR: amr, IP: c.IP, Agent: c.UserAgent}); err != nil {
		return TokenResponse{}, Session{}, err
	}
	resp, err := s.tokenResponse(ctx, u, roles, perms, sess, refresh, clientID, now)
	return resp, sess, err
}

// tokenResponse signs an access token for u in sess, with u's roles and
// permissions, and answers it with refresh.
func (s *Service) tokenResponse(ctx context.Context, u User, roles, perms []string, sess Session, refresh, clientID string, now time.Time) (TokenResponse, error) {
	access, err := s.accessToken(ctx, u, roles, perms, sess, clientID, now)
	if err != nil {
		return TokenResponse{}, err
	}
	u.Roles = nonNil(roles)
	return TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.opts.AccessTokenTTL.Seconds()),
		RefreshToken: refresh, User: &u}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
