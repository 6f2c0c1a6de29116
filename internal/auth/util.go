package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"

	"github.com/google/uuid"
)

// newID returns a sortable unique id (UUIDv7).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// randomToken returns prefix + 32 random bytes, base64url: for refresh
// tokens, codes in links, API keys.
func randomToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is how secrets are stored: SHA-256, hex. Tokens carry 256 bits
// of randomness, so a fast hash is enough (no salt or stretching needed).
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
