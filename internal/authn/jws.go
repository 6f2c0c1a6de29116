package authn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// A deliberately small JWS reader: compact serialization only, two
// algorithms, the algorithm pinned by the key's type. Keeping it this small
// is what makes it easy to see that "none", HMAC and key confusion cannot
// get through, and keeps an uncached Verify close to the cost of the
// signature check itself.

var b64 = base64.RawURLEncoding.Strict()

// jws is a parsed, not yet verified, compact JWS.
type jws struct {
	signingInput string // header.payload, as sent
	payload      string // still base64url
	signature    []byte
	header       jwsHeader
}

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

func parseJWS(token string) (*jws, error) {
	i := strings.IndexByte(token, '.')
	j := strings.LastIndexByte(token, '.')
	if i < 0 || i == j || strings.IndexByte(token[i+1:j], '.') >= 0 {
		return nil, errors.New("not a compact JWS (want three dot-separated parts)")
	}
	t := &jws{signingInput: token[:j], payload: token[i+1 : j]}
	hdr, err := b64.DecodeString(token[:i])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := json.Unmarshal(hdr, &t.header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if t.signature, err = b64.DecodeString(token[j+1:]); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return t, nil
}

// checkHeader applies the rules that need no key.
func (t *jws) checkHeader() error {
	h := &t.header
	switch {
	case h.Alg != AlgEdDSA && h.Alg != AlgES256:
		return fmt.Errorf("alg %q not allowed", h.Alg)
	case !isAccessTokenType(h.Typ):
		return fmt.Errorf("typ %q, want at+jwt", h.Typ)
	case h.Kid == "":
		return errors.New("no kid")
	case len(h.Crit) > 0:
		// No extension is understood, so any critical one must fail (RFC 7515 §4.1.11).
		return errors.New("crit header present")
	}
	return nil
}

// isAccessTokenType accepts "at+jwt" and "application/at+jwt", ignoring
// case (RFC 9068 §2.1, RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

func (t *jws) verifySignature(k Key) error {
	if t.header.Alg != k.Algorithm {
		return fmt.Errorf("alg %s does not match key %q (%s)", t.header.Alg, k.ID, k.Algorithm)
	}
	switch pub := k.Public.(type) {
	case ed25519.PublicKey:
		if len(t.signature) == ed25519.SignatureSize && ed25519.Verify(pub, []byte(t.signingInput), t.signature) {
			return nil
		}
	case *ecdsa.PublicKey:
		// JWS carries R||S, 32 bytes each (RFC 7518 §3.4), not ASN.1.
		if len(t.signature) == 64 {
			h := sha256.Sum256([]byte(t.signingInput))
			r := new(big.Int).SetBytes(t.signature[:32])
			s := new(big.Int).SetBytes(t.signature[32:])
			if ecdsa.Verify(pub, h[:], r, s) {
				return nil
			}
		}
	default:
		return fmt.Errorf("key %q: unsupported type %T", k.ID, k.Public)
	}
	return errors.New("bad signature")
}

func splitScope(scope string) []string {
	if scope == "" {
		return nil
	}
	return strings.Fields(scope)
}
