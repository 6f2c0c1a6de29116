package throttle

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
)

// Actions the auth service throttles. Keys of different actions are
// counted apart, so failed sign-ins do not block a password reset.
const (
	SignIn  = "signin"  // password sign-in
	Recover = "recover" // password reset requests and tokens
	Verify  = "verify"  // email verification tokens
	OTP     = "otp"     // one-time codes and magic links
	MFA     = "mfa"     // second-factor codes
	SignUp  = "signup"  // sign-ups, counted whether they succeed or not

	OIDCStart = "oidc_start" // social sign-ins started, forgiven when one completes
	APIKey    = "api_key"    // API keys that failed verification
)

// AccountKey is the key of one account (by email address) for action. The
// address is trimmed and lower-cased, then hashed, so the table holds no
// addresses. Derive it from the address the client sent, whether or not an
// account has it, so that blocking reveals nothing about which accounts exist.
//
// The hash is not keyed: it keeps addresses out of plain sight, not away from
// someone who can read the table and guess addresses.
func AccountKey(action, email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	sum := sha256.Sum256([]byte(action + "\x00" + e))
	return "acct:" + action + ":" + hex.EncodeToString(sum[:16])
}

// IPKey is the key of a client address for action. IPv4 addresses (and
// IPv4-mapped IPv6 ones) count alone; IPv6 addresses count by their /64,
// which is what one subscriber usually gets, so an attacker cannot rotate
// through the addresses of their own network. ip may carry a port
// ("203.0.113.7:4711", "[2001:db8::1]:443") or a zone; anything unparseable
// shares one key, so bad input cannot evade the limit.
func IPKey(action, ip string) string {
	addr, ok := parseIP(ip)
	if !ok {
		return "ip:" + action + ":invalid"
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64) // cannot fail for a valid IPv6 address
		return "ip:" + action + ":" + p.String()
	}
	return "ip:" + action + ":" + addr.String()
}

func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	}
	return addr.Unmap().WithZone(""), true
}
