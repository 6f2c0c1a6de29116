package auth_test

import (
	"fmt"
	"testing"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestClientAddressFromTrustedProxiesOnly: X-Forwarded-For names the
// client only when the peer is a trusted proxy (auth.trusted_proxies; the
// tests' clients connect over loopback). From any other peer it is
// ignored: a client cannot pick the address its sessions record and its
// failures count against.
func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted bool
	}{{"loopback trusted", true}, {"nobody trusted", false}} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				h := newHarness(t, db, func(o *auth.Options) {
					if !tc.trusted {
						o.TrustedProxies = nil
					}
				})
				h.signUp("peer@example.com", pw)
				tok := h.callFrom("198.51.100.7, 203.0.113.50, 127.0.0.9", "POST", "/v1/auth/token",
					map[string]any{"grant_type": "password", "username": "peer@example.com", "password": pw}).
					expect(t, 200, "")
				sessions := h.call("GET", "/v1/auth/sessions", nil, tok.str("access_token")).expect(t, 200, "")
				items := asSlice(sessions.Body["items"])
				if len(items) != 1 {
					t.Fatalf("sessions: %s", sessions.Raw)
				}
				want := "203.0.113.50" // right-most hop outside 127.0.0.0/8
				if !tc.trusted {
					want = "127.0.0.1"
				}
				if ip := items[0].(map[string]any)["ip"]; ip != want {
					t.Fatalf("session ip %v; want %s", ip, want)
				}

				// Failed sign-ins, each for another email from another
				// claimed address: only an untrusted X-Forwarded-For puts
				// them all on one address, which gets blocked.
				var last response
				for i := range 6 {
					last = h.callFrom(fmt.Sprintf("198.51.100.%d", 10+i), "POST", "/v1/auth/token",
						map[string]any{"grant_type": "password", "username": fmt.Sprintf("nobody%d@example.com", i),
							"password": "wrong password"})
				}
				if tc.trusted {
					last.expect(t, 400, "auth.invalid_credentials")
				} else {
					last.expect(t, 429, "auth.too_many_attempts")
				}
			}, auth.Migrations...)
		})
	}
}
