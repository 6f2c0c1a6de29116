package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// Secrets the service must read back (TOTP seeds) are sealed at rest:
// AES-256-GCM under a key derived with HKDF from the service secret, the
// row's id as associated data so a sealed value cannot be moved to another
// row. Low-entropy codes that are only checked (recovery codes) are stored
// as an HMAC under another derived key, so a stolen table cannot be
// brute-forced without the secret.
const (
	sealVersion      = 1
	sealInfo         = "bam auth mfa secrets: sealing v1"
	recoveryHashInfo = "bam auth recovery codes: hmac v1"
)

var errUnseal = errors.New("auth: sealed secret cannot be opened (wrong auth.secret?)")

func (s *Service) sealAEAD() (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, s.opts.Secret, nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns base64url(version || nonce || ciphertext+tag).
func (s *Service) seal(id string, plain []byte) (string, error) {
	aead, err := s.sealAEAD()
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	return base64.RawURLEncoding.EncodeToString(aead.Seal(out, out[1:], plain, []byte(id))), nil
}

// unseal reverses seal.
func (s *Service) unseal(id, sealed string) ([]byte, error) {
	aead, err := s.sealAEAD()
	if err != nil {
		return nil, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	n := aead.NonceSize()
	if err != nil || len(raw) < 1+n+aead.Overhead() || raw[0] != sealVersion {
		return nil, errUnseal
	}
	plain, err := aead.Open(nil, raw[1:1+n], raw[1+n:], []byte(id))
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}

// recoveryHash is how a recovery code of userID is stored.
func (s *Service) recoveryHash(userID, code string) string {
	key, _ := hkdf.Key(sha256.New, s.opts.Secret, nil, recoveryHashInfo, 32)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(userID + "\x00" + code))
	return hex.EncodeToString(mac.Sum(nil))
}
