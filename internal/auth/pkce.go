package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCE (RFC 7636), S256 only: plain would hand the verifier to anyone who
// sees the authorization request.

// isPKCEValue reports whether v is min..max characters of the unreserved
// set RFC 7636 §4.1 allows.
func isPKCEValue(v string, min, max int) bool {
	if len(v) < min || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// pkceMatches checks a code_verifier against the stored S256 challenge, in
// constant time.
func pkceMatches(verifier, challenge string) bool {
	if !isPKCEValue(verifier, 43, 128) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
