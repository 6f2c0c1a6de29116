package auth

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
)

// idTokenClaims is an OpenID Connect id_token (Core §2): who signed in,
// for which client, when and how.
type idTokenClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	AZP           string   `json:"azp"`
	Expiry        int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	AuthTime      int64    `json:"auth_time"`
	Nonce         string   `json:"nonce,omitempty"`
	SessionID     string   `json:"sid"`
	AMR           []string `json:"amr,omitempty"`
	AtHash        string   `json:"at_hash,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
}

// idToken signs the id_token of a code exchange; it lives as long as the
// access token beside it. Email claims come only with the email scope.
func (s *Service) idToken(ctx context.Context, u User, sess Session, ac authorizedCode, access string, now time.Time) (string, error) {
	k, err := s.Keys.Signer(ctx)
	if err != nil {
		return "", err
	}
	c := idTokenClaims{Issuer: s.opts.Issuer, Subject: u.ID, Audience: ac.ClientID, AZP: ac.ClientID,
		Expiry: now.Add(s.opts.AccessTokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: ac.AuthTime,
		Nonce: ac.Nonce, SessionID: sess.ID, AMR: sess.AMR, AtHash: tokenHash(k.Alg, access)}
	if hasScope(ac.Scope, "email") {
		verified := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &verified
	}
	return k.Sign(c, keys.TypeJWT) // the key at_hash was computed for, even if a rotation came between
}

// tokenHash is the at_hash of an access token (Core §3.1.3.6): the left
// half of its hash under the signature's hash function (SHA-512 for
// Ed25519, as relying parties such as go-oidc compute it).
func tokenHash(alg jose.SignatureAlgorithm, token string) string {
	var h hash.Hash
	switch alg {
	case jose.ES256:
		h = sha256.New()
	case jose.EdDSA:
		h = sha512.New()
	default:
		return ""
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
