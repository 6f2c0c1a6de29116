package throttle_test

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/throttle"
)

func TestAccountKey(t *testing.T) {
	t.Parallel()
	k := throttle.AccountKey(throttle.SignIn, "Alice@Example.com")
	if got := throttle.AccountKey(throttle.SignIn, "  alice@example.COM "); got != k {
		t.Errorf("case and spaces changed the key: %q != %q", got, k)
	}
	if strings.Contains(strings.ToLower(k), "alice") || strings.Contains(k, "example") {
		t.Errorf("key %q contains the address", k)
	}
	if throttle.AccountKey(throttle.Recover, "alice@example.com") == k {
		t.Error("actions share a key")
	}
	if throttle.AccountKey(throttle.SignIn, "bob@example.com") == k {
		t.Error("accounts share a key")
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	const a = throttle.SignIn
	tests := []struct {
		name, ip, want string
	}{
		{"ipv4", "203.0.113.7", "ip:signin:203.0.113.7"},
		{"ipv4 with port", "203.0.113.7:4711", "ip:signin:203.0.113.7"},
		{"ipv4-mapped ipv6", "::ffff:203.0.113.7", "ip:signin:203.0.113.7"},
		{"ipv6 grouped by /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:signin:2001:db8:1:2::/64"},
		{"same /64", "2001:db8:1:2::1", "ip:signin:2001:db8:1:2::/64"},
		{"next /64", "2001:db8:1:3::1", "ip:signin:2001:db8:1:3::/64"},
		{"ipv6 with port", "[2001:db8:1:2::5]:443", "ip:signin:2001:db8:1:2::/64"},
		{"ipv6 with zone", "fe80::1%eth0", "ip:signin:fe80::/64"},
		{"invalid", "not an ip", "ip:signin:invalid"},
		{"empty", "", "ip:signin:invalid"},
	}
	for _, tt := range tests {
		if got := throttle.IPKey(a, tt.ip); got != tt.want {
			t.Errorf("%s: IPKey(%q) = %q, want %q", tt.name, tt.ip, got, tt.want)
		}
	}
	if throttle.IPKey(throttle.OTP, "203.0.113.7") == throttle.IPKey(a, "203.0.113.7") {
		t.Error("actions share a key")
	}
}
