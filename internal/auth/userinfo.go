package auth

import (
	"net/http"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// userinfoClaims is the UserInfo response (OpenID Connect Core §5.3); an
// app's token gets the email claims only with the email scope (§5.4).
type userinfoClaims struct {
	Subject       string `json:"sub"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	UpdatedAt     int64  `json:"updated_at"`
}

// handleUserinfo answers GET and POST /v1/auth/userinfo with the claims of
// the user whose access token came with the request.
func (s *Service) handleUserinfo(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if p.Kind != authn.KindUser {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		httpx.WriteError(w, r, errs.E(errs.Forbidden, "auth.not_a_user", "userinfo needs a user's access token"))
		return
	}
	u, err := userByID(r.Context(), s.DB.SQL(), p.Subject)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	claims := userinfoClaims{Subject: u.ID, UpdatedAt: u.UpdatedAt.Unix()}
	if firstParty(p) == nil || p.HasScope("email") {
		claims.Email, claims.EmailVerified = u.Email, &u.EmailVerified
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, claims)
}
