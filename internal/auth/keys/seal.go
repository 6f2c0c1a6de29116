package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// sealVersion prefixes every sealed key, so the scheme can change later
// without guessing what a row holds.
const sealVersion byte = 1

// hkdfInfo binds the derived key to its one use.
const hkdfInfo = "bam auth signing keys: private key sealing v1"

// sealer encrypts private keys at rest: AES-256-GCM under a key derived from
// the Manager's secret, the kid as associated data.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keys: derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal returns version || nonce || ciphertext+tag. Random 96-bit nonces are
// safe here: one key seals a handful of values over its life.
func (s *sealer) seal(kid string, plain []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, []byte(kid))
}

// open reverses seal; any failure to authenticate is ErrDecrypt.
func (s *sealer) open(kid string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() {
		return nil, fmt.Errorf("%w (key %s: too short)", ErrDecrypt, kid)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w (key %s: unknown format %d)", ErrDecrypt, kid, sealed[0])
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("%w (key %s)", ErrDecrypt, kid)
	}
	return plain, nil
}
