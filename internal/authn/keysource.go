package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// JWS algorithms a Verifier accepts. Nothing else is ever accepted: no
// "none", no HMAC, no RSA.
const (
	AlgEdDSA = "EdDSA" // Ed25519
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
)

// Key is one public verification key.
type Key struct {
	ID string
	// Algorithm is the only JWS alg this key verifies, fixed by its type:
	// AlgEdDSA for Ed25519, AlgES256 for P-256.
	Algorithm string
	// Public is an ed25519.PublicKey or a *ecdsa.PublicKey on P-256.
	Public crypto.PublicKey
}

// ErrUnknownKey is returned (wrapped) by a KeySource that has no key with
// the requested id, even after refreshing.
var ErrUnknownKey = errors.New("authn: unknown key id")

// KeySource supplies verification keys by key id.
type KeySource interface {
	// Key returns the key with id kid. A source that can refresh does so
	// when kid is unknown (rate-limited) before giving up with an error
	// wrapping ErrUnknownKey.
	Key(ctx context.Context, kid string) (Key, error)
}

// JWKSURL is where an issuer publishes its keys.
func JWKSURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/jwks.json"
}

// staticKeys is a fixed key set.
type staticKeys map[string]Key

// StaticKeys returns a KeySource serving the keys of set, for tests and for
// embedding a verifier next to the issuer. Private keys are reduced to their
// public half; keys of other types than Ed25519 and P-256 are an error.
func StaticKeys(set jose.JSONWebKeySet) (KeySource, error) {
	keys := staticKeys{}
	for _, jwk := range set.Keys {
		if !jwk.IsPublic() {
			jwk = jwk.Public()
		}
		k, err := keyOf(jwk)
		if err != nil {
			return nil, err
		}
		keys[k.ID] = k
	}
	return keys, nil
}

func (s staticKeys) Key(_ context.Context, kid string) (Key, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return Key{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// ParseJWKS parses a JWK set as served at JWKSURL. Keys that cannot verify
// bam tokens (other types, "use" other than "sig", an "alg" that does not
// match the key type, no "kid", private material) are skipped; a set with no
// usable key at all is an error, so a broken publication never replaces a
// good set.
func ParseJWKS(data []byte) (map[string]Key, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("authn: jwks: %w", err)
	}
	keys := make(map[string]Key, len(raw.Keys))
	var skipped []error
	for _, r := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(r); err != nil {
			skipped = append(skipped, err)
			continue
		}
		if !jwk.IsPublic() {
			skipped = append(skipped, fmt.Errorf("key %q has private material", jwk.KeyID))
			continue
		}
		k, err := keyOf(jwk)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		keys[k.ID] = k
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("authn: jwks has no usable key: %w", errors.Join(skipped...))
	}
	return keys, nil
}

// keyOf checks that jwk is a public signing key bam accepts and returns it
// with the one algorithm its type allows.
func keyOf(jwk jose.JSONWebKey) (Key, error) {
	k := Key{ID: jwk.KeyID}
	if k.ID == "" {
		return Key{}, errors.New("authn: jwk without kid")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return Key{}, fmt.Errorf("authn: jwk %q: use %q, want sig", k.ID, jwk.Use)
	}
	switch pub := jwk.Key.(type) {
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("authn: jwk %q: bad Ed25519 key size", k.ID)
		}
		k.Algorithm, k.Public = AlgEdDSA, pub
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return Key{}, fmt.Errorf("authn: jwk %q: curve %s, want P-256", k.ID, pub.Curve.Params().Name)
		}
		k.Algorithm, k.Public = AlgES256, pub
	default:
		return Key{}, fmt.Errorf("authn: jwk %q: unsupported key type %T", k.ID, jwk.Key)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != k.Algorithm {
		return Key{}, fmt.Errorf("authn: jwk %q: alg %q does not match its %s key", k.ID, jwk.Algorithm, k.Algorithm)
	}
	return k, nil
}
