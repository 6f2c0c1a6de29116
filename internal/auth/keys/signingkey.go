package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// SigningKey is the active key, ready to sign. Its String and GoString
// methods show the kid and alg only, so printing or logging one never shows
// the private key.
type SigningKey struct {
	KID string
	Alg jose.SignatureAlgorithm
	// Key is the private key: ed25519.PrivateKey or *ecdsa.PrivateKey.
	Key crypto.Signer

	access, id *compactSigner
}

// newSigningKey wraps priv with signers for both token types.
func newSigningKey(kid string, alg jose.SignatureAlgorithm, priv crypto.Signer) (*SigningKey, error) {
	k := &SigningKey{KID: kid, Alg: alg, Key: priv}
	var err error
	if k.access, err = newCompactSigner(kid, alg, priv, TypeAccessToken); err != nil {
		return nil, fmt.Errorf("keys: signer for %s: %w", kid, err)
	}
	if k.id, err = newCompactSigner(kid, alg, priv, TypeJWT); err != nil {
		return nil, fmt.Errorf("keys: signer for %s: %w", kid, err)
	}
	return k, nil
}

// Sign returns claims, encoded as JSON, as a compact JWS with the headers
// alg, kid and typ (TypeAccessToken or TypeJWT).
func (k *SigningKey) Sign(claims any, typ string) (string, error) {
	s := k.access
	switch typ {
	case TypeAccessToken:
	case TypeJWT:
		s = k.id
	default:
		return "", fmt.Errorf("keys: unknown token type %q", typ)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("keys: encode claims: %w", err)
	}
	jws, err := s.sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign with %s: %w", k.KID, err)
	}
	return jws, nil
}

// String returns "kid (alg)". Value receivers, so that printing a
// SigningKey or a pointer to one hides the key either way.
func (k SigningKey) String() string { return k.KID + " (" + string(k.Alg) + ")" }

// GoString keeps %#v from printing the private key.
func (k SigningKey) GoString() string { return "keys.SigningKey{" + k.String() + "}" }

var errUnsupportedKey = errors.New("keys: unsupported private key type")

// newKeyMaterial is a freshly generated key pair, sealed for storage.
type newKeyMaterial struct {
	key       *SigningKey
	sealed    []byte
	publicJWK []byte
}

// generate creates a key pair of alg, names it by its RFC 7638 thumbprint
// and seals the private half.
func generate(alg jose.SignatureAlgorithm, s *sealer) (*newKeyMaterial, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("keys: unsupported alg %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: string(alg), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("keys: thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("keys: encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keys: encode private key: %w", err)
	}
	key, err := newSigningKey(pub.KeyID, alg, priv)
	if err != nil {
		return nil, err
	}
	return &newKeyMaterial{key: key, sealed: s.seal(pub.KeyID, der), publicJWK: pubJSON}, nil
}

// openKey unseals a stored private key and checks it fits alg.
func openKey(s *sealer, kid string, alg jose.SignatureAlgorithm, sealed []byte) (*SigningKey, error) {
	der, err := s.open(kid, sealed)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: parse private key: %w", kid, err)
	}
	var priv crypto.Signer
	switch p := parsed.(type) {
	case ed25519.PrivateKey:
		if alg == EdDSA {
			priv = p
		}
	case *ecdsa.PrivateKey:
		if alg == ES256 && p.Curve == elliptic.P256() {
			priv = p
		}
	}
	if priv == nil {
		return nil, fmt.Errorf("%w: key %s is a %T, recorded as %s", errUnsupportedKey, kid, parsed, alg)
	}
	return newSigningKey(kid, alg, priv)
}
