// Package auth is bam's auth service: users and their sessions, OAuth2 /
// OpenID Connect-shaped tokens signed with asymmetric keys published as
// JWKS, roles and permissions, API keys, MFA and single-use codes.
//
// Reading order: auth.go (domain types), service.go (construction),
// tokens.go (what a token carries), signin.go and refresh.go (the token
// endpoint's grants), signup.go, session.go and user.go (account
// endpoints), http.go (routes), store_*.go (SQL, both dialects), events.go
// (what it announces), module.go (how the platform runs it).
//
// Sub-packages hold what needs no HTTP: password (argon2id and policy),
// keys (signing keys, rotation, JWKS), mail (sending), throttle
// (brute-force backoff shared by replicas).
package auth

import (
	"encoding/json"
	"time"
)

// User is an account as clients see it.
type User struct {
	ID            string          `json:"id"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"emailVerified"`
	Data          json.RawMessage `json:"data"`    // the user's own metadata
	AppData       json.RawMessage `json:"appData"` // metadata only admins set
	Roles         []string        `json:"roles"`
	MFAEnabled    bool            `json:"mfaEnabled"`
	Disabled      bool            `json:"disabled"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`

	passwordHash string
}

// Session is one sign-in: the family of refresh tokens rotated from it.
type Session struct {
	ID          string     `json:"id"`
	UserID      string     `json:"userId"`
	AAL         string     `json:"aal"`
	AMR         []string   `json:"amr"`
	IP          string     `json:"ip"`
	UserAgent   string     `json:"userAgent"`
	CreatedAt   time.Time  `json:"createdAt"`
	RefreshedAt time.Time  `json:"refreshedAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	Current     bool       `json:"current,omitempty"` // the session of the caller's token
	// ClientID is the OAuth client the session was started for (the
	// authorization code grant); "" for bam's own sign-ins.
	ClientID string `json:"clientId,omitempty"`
	// Scope is the OAuth scope granted to ClientID ("" without a client).
	Scope string `json:"scope,omitempty"`
}

// TokenResponse is the token endpoint's answer (RFC 6749 §5.1), plus the
// signed-in user for convenience.
type TokenResponse struct {
	AccessToken  string `json:"access_token,omitempty"` // empty only in an MFA challenge
	TokenType    string `json:"token_type,omitempty"`
	ExpiresIn    int    `json:"expires_in,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	User         *User  `json:"user,omitempty"`
	// *MFAChallenge replaces the tokens when a second factor is due (mfa_challenge.go).
	*MFAChallenge
}

// Authentication methods (amr values, RFC 8176) and assurance levels.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"  // one-time code or magic link
	AMRMFA      = "mfa"  // a second factor was used
	AMRTOTP     = "totp" // bam-specific: the second factor was TOTP
	AMRFederate = "fed"  // an external OpenID Connect provider

	AAL1 = "aal1"
	AAL2 = "aal2"
)

// Principal kinds carried in the kind claim.
const (
	KindUser    = "user"
	KindService = "service"
)
