package config_test

import (
	"slices"
	"strings"
	"testing"
)

// TestAuthTrustedProxies: loopback by default (the gateway in one process
// or on the same host), replaced by the file or the environment, and
// checked.
func TestAuthTrustedProxies(t *testing.T) {
	c, err := loadYAML(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.0/8", "::1/128"}; !slices.Equal(c.Auth.TrustedProxies, want) {
		t.Fatalf("default auth.trusted_proxies %q; want %q", c.Auth.TrustedProxies, want)
	}
	c, err = loadYAML(t, "auth:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.7]")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "192.0.2.7"}; !slices.Equal(c.Auth.TrustedProxies, want) {
		t.Fatalf("auth.trusted_proxies %q; want %q", c.Auth.TrustedProxies, want)
	}
	c, err = loadYAML(t, "", "BAM_AUTH_TRUSTED_PROXIES=")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auth.TrustedProxies) != 0 {
		t.Fatalf("BAM_AUTH_TRUSTED_PROXIES= gave %q; want none trusted", c.Auth.TrustedProxies)
	}
	for _, bad := range []string{"10.0.0.0/33", "gateway"} {
		_, err := loadYAML(t, "auth:\n  trusted_proxies: ["+bad+"]")
		if want := `auth.trusted_proxies = "` + bad + `"`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("trusted_proxies [%s]: error %v; want %q", bad, err, want)
		}
	}
}
