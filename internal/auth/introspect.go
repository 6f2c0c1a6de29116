package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Introspection is an answer of the introspection endpoint (RFC 7662 §2.2).
// An inactive token is {"active": false} and nothing else.
type Introspection struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type,omitempty"` // "Bearer" (access token) or "refresh_token"
	Subject   string `json:"sub,omitempty"`
	Kind      string `json:"kind,omitempty"` // user or service
	Username  string `json:"username,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Scope     string `json:"scope,omitempty"`
	SessionID string `json:"sid,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  string `json:"aud,omitempty"`
	TokenID   string `json:"jti,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
}

// Introspect says whether a token is active now, and what it carries. The
// session is read from the database, so a sign-out on another replica
// shows at once even before its event arrives.
func (s *Service) Introspect(ctx context.Context, token string) (Introspection, error) {
	now := s.now()
	if strings.HasPrefix(token, refreshPrefix) {
		rt, err := refreshTokenByHash(ctx, s.DB.SQL(), hashToken(token))
		if errors.Is(err, errNoRefreshToken) {
			return Introspection{}, nil
		}
		if err != nil {
			return Introspection{}, err
		}
		sess, err := sessionByID(ctx, s.DB.SQL(), rt.sessionID)
		if err != nil {
			return Introspection{}, err
		}
		if rt.usedAt != nil || sess.RevokedAt != nil || !now.Before(rt.expiresAt) || !now.Before(sess.ExpiresAt) {
			return Introspection{}, nil
		}
		return Introspection{Active: true, TokenType: "refresh_token", Subject: sess.UserID, Kind: KindUser,
			SessionID: sess.ID, Issuer: s.opts.Issuer, IssuedAt: sess.RefreshedAt.Unix(), ExpiresAt: rt.expiresAt.Unix()}, nil
	}
	p, err := s.verifier.Verify(ctx, token)
	if err != nil {
		if errs.KindOf(err) == errs.Unauthenticated {
			return Introspection{}, nil
		}
		return Introspection{}, err
	}
	if p.SessionID != "" {
		sess, err := sessionByID(ctx, s.DB.SQL(), p.SessionID)
		if err != nil || sess.RevokedAt != nil {
			return Introspection{}, nil
		}
	}
	return Introspection{Active: true, TokenType: "Bearer", Subject: p.Subject, Kind: string(p.Kind),
		Username: p.Email, ClientID: p.ClientID, Scope: strings.Join(p.Scopes, " "), SessionID: p.SessionID,
		Issuer: s.opts.Issuer, Audience: s.opts.Audience, TokenID: p.TokenID,
		IssuedAt: p.IssuedAt.Unix(), ExpiresAt: p.ExpiresAt.Unix()}, nil
}

// handleIntrospect is POST /v1/auth/introspect (form: token). Only a
// registered client with its secret (HTTP Basic or form), or an admin's
// bearer token, may ask (RFC 7662 §2.1): token scanning is not for anyone.
// A client is told the username (the email) only of tokens issued to it.
func (s *Service) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		writeTokenError(w, r, err)
		return
	}
	client := "" // the asking client; "" for an admin, who may introspect any token
	if p, ok := authn.FromContext(r.Context()); !ok || !p.HasPermission(authn.AdminPermission) {
		cc, err := formClient(r, form)
		if err == nil {
			_, err = s.authenticateClient(r.Context(), cc, false)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="bam"`)
			writeTokenError(w, r, err)
			return
		}
		client = cc.ID
	}
	if form.Get("token") == "" {
		writeTokenError(w, r, errs.E(errs.Invalid, "auth.invalid_request", "token is required").
			WithField("token", "required", "the token to introspect"))
		return
	}
	info, err := s.Introspect(r.Context(), form.Get("token"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if client != "" && info.ClientID != client {
		// A resource server checks tokens issued to others (that is what
		// introspection is for), but the user's address is not its
		// business unless the token was issued to it.
		info.Username = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, info)
}

// readForm reads a size-limited form body (these endpoints are form-only,
// as RFC 7009 and RFC 7662 define them).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	return httpx.ReadForm(w, r, 64<<10, "auth.invalid_request")
}
