package authn

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// claims are the access-token claims bam's auth service issues.
type claims struct {
	Issuer        string
	Subject       string
	Audience      audience
	Expiry        *numericDate
	IssuedAt      *numericDate
	NotBefore     *numericDate
	ID            string // jti
	SessionID     string // sid
	ClientID      string // client_id
	Kind          string
	Roles         []string
	Permissions   []string
	Scope         string
	Email         string
	EmailVerified bool // email_verified
	AMR           []string
	AAL           string
}

// audience is aud: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a audience) contains(aud string) bool {
	for _, x := range a {
		if x == aud {
			return true
		}
	}
	return false
}

// numericDate is seconds since the epoch, possibly fractional.
type numericDate float64

func (d numericDate) time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

func (t *jws) decodeClaims() (*claims, error) {
	raw, err := b64.DecodeString(t.payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	c, err := parseClaims(raw)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return c, nil
}

// parseClaims reads the claims object. It is a small purpose-built JSON
// reader: encoding/json's reflection costs about a fifth of an Ed25519
// check, and an uncached Verify must stay close to the signature's cost.
// It only ever sees payloads whose signature has been verified. Keys match
// exactly (not case-insensitively), unknown members are skipped, null
// leaves a claim unset, the last duplicate wins.
func parseClaims(data []byte) (*claims, error) {
	p := &reader{s: data}
	c := new(claims)
	err := p.object(func(key string) error {
		if p.null() {
			return nil
		}
		var err error
		switch key {
		case "iss":
			c.Issuer, err = p.str()
		case "sub":
			c.Subject, err = p.str()
		case "aud":
			if p.peek() == '"' {
				var s string
				s, err = p.str()
				c.Audience = audience{s}
			} else {
				c.Audience, err = p.strs()
			}
		case "exp":
			c.Expiry, err = p.date()
		case "iat":
			c.IssuedAt, err = p.date()
		case "nbf":
			c.NotBefore, err = p.date()
		case "jti":
			c.ID, err = p.str()
		case "sid":
			c.SessionID, err = p.str()
		case "client_id":
			c.ClientID, err = p.str()
		case "kind":
			c.Kind, err = p.str()
		case "roles":
			c.Roles, err = p.strs()
		case "permissions":
			c.Permissions, err = p.strs()
		case "scope":
			c.Scope, err = p.str()
		case "email":
			c.Email, err = p.str()
		case "email_verified":
			c.EmailVerified, err = p.boolean()
		case "amr":
			c.AMR, err = p.strs()
		case "aal":
			c.AAL, err = p.str()
		default:
			err = p.skip(0)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.ws(); p.i != len(p.s) {
		return nil, errors.New("data after the object")
	}
	return c, nil
}
