package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

// Per-IP throttles of requests that cost the service something whoever
// sends them: starting a social sign-in (a stored state) and checking an
// API key.

// startFrom begins a social sign-in at h, as the gateway forwarding for ip
// ("" for a request from the test itself, a loopback peer).
func startFrom(t *testing.T, h *harness, ip string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+"/v1/auth/oidc/a/start", nil)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// expectThrottled fails unless resp is a 429 with a Retry-After.
func expectThrottled(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestSocialStartThrottled: every start counts against its IP; a
// completed sign-in forgives that IP's starts; past the allowance, 429
// with Retry-After, for that IP only.
func TestSocialStartThrottled(t *testing.T) {
	run(t, func(t *testing.T, a *harness) {
		p := newSocialPair(t, a)
		a.signUp("ann@example.com", pw)
		annAtA := a.signIn("ann@example.com", pw).expect(t, 200, "").str("access_token")

		for i := range auth.IPAllowance - 1 {
			if r := startFrom(t, p.B, ""); r.StatusCode != 302 {
				t.Fatalf("start %d: %d", i, r.StatusCode)
			}
		}
		p.signInWithA(t, annAtA) // the allowance's last start, completed: all forgiven
		for i := range auth.IPAllowance {
			if r := startFrom(t, p.B, ""); r.StatusCode != 302 {
				t.Fatalf("start %d after a completed sign-in: %d", i, r.StatusCode)
			}
		}
		expectThrottled(t, startFrom(t, p.B, ""))
		if r := startFrom(t, p.B, "198.51.100.1"); r.StatusCode != 302 {
			t.Fatalf("start from another IP: %d", r.StatusCode)
		}
		p.B.clock.Advance(2 * time.Second) // the first block is 1s
		if r := startFrom(t, p.B, ""); r.StatusCode != 302 {
			t.Fatalf("start after the block: %d", r.StatusCode)
		}
	})
}

// TestAPIKeyRefusalsOnAuthRoutes: keys presented to auth's own routes are
// checked in-process, and refused ones count against the client that sent
// them: one client's guesses do not block another's good key (they all
// shared one bucket before).
func TestAPIKeyRefusalsOnAuthRoutes(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		access, _ := h.keyUser(h.adminToken(), "keys@example.com")
		key := h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{}},
			access).expect(t, 201, "").str("key")
		listKeys := func(ip, k string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest("GET", h.URL+"/v1/auth/keys", nil)
			req.Header.Set("X-Forwarded-For", ip)
			req.Header.Set("X-API-Key", k)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			return resp
		}
		for i := range auth.IPAllowance {
			if r := listKeys("198.51.100.7", fmt.Sprintf("bam_guess%d", i)); r.StatusCode != 401 {
				t.Fatalf("guess %d: %d, want 401", i, r.StatusCode)
			}
		}
		expectThrottled(t, listKeys("198.51.100.7", "bam_guess_next"))
		// (Accepted as a credential: keys may not list keys, a 403.)
		if r := listKeys("203.0.113.9", key); r.StatusCode != 403 {
			t.Fatalf("a good key from another client: %d, want it accepted (403: keys do not manage keys)", r.StatusCode)
		}
	})
}

// verifyFrom posts key to the verification endpoint as the gateway
// forwarding for ip ("" for the gateway asking for itself).
func verifyFrom(t *testing.T, h *harness, ip, key string) response {
	t.Helper()
	if ip == "" {
		return h.call("POST", "/v1/auth/keys/verify", map[string]any{"key": key}, "")
	}
	return h.callFrom(ip, "POST", "/v1/auth/keys/verify", map[string]any{"key": key})
}

// TestAPIKeyVerifyThrottled: refused keys count against the client's IP;
// past the allowance every check from it, even of a good key, is a 429
// with Retry-After. A trusted proxy asking for itself is not counted; one
// naming its client (authn.WithClientIP) has that client counted.
func TestAPIKeyVerifyThrottled(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		access, _ := h.keyUser(h.adminToken(), "keys@example.com")
		key := h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{}},
			access).expect(t, 201, "").str("key")

		for range auth.IPAllowance {
			verifyFrom(t, h, "198.51.100.7", "bam_guess").expect(t, 401, "auth.token_invalid")
		}
		for _, k := range []string{"bam_guess", key} {
			r := verifyFrom(t, h, "198.51.100.7", k).expect(t, 429, "auth.too_many_attempts")
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
		verifyFrom(t, h, "198.51.100.8", key).expect(t, 200, "")
		verifyFrom(t, h, "198.51.100.7", key).expect(t, 429, "auth.too_many_attempts")
		h.clock.Advance(2 * time.Second)
		verifyFrom(t, h, "198.51.100.7", key).expect(t, 200, "")

		// The gateway (a trusted loopback peer) asking for itself.
		for range auth.IPAllowance + 5 {
			verifyFrom(t, h, "", "bam_guess").expect(t, 401, "auth.token_invalid")
		}
		verifyFrom(t, h, "", key).expect(t, 200, "")

		// The gateway naming its client through authn.
		v, err := authn.NewAPIKeyVerifier(authn.APIKeyOptions{Endpoint: h.URL + "/v1/auth/keys/verify", Clock: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		client := authn.WithClientIP(context.Background(), netip.MustParseAddr("203.0.113.20"))
		for i := range auth.IPAllowance { // distinct keys: refusals are cached per key
			if _, err := v.Verify(client, fmt.Sprintf("bam_guess%d", i)); errs.CodeOf(err) != authn.CodeTokenInvalid {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if _, err := v.Verify(client, key); errs.KindOf(err) != errs.TooManyRequests {
			t.Fatalf("good key from a blocked client: %v; want TooManyRequests", err)
		}
		other := authn.WithClientIP(context.Background(), netip.MustParseAddr("203.0.113.21"))
		if p, err := v.Verify(other, key); err != nil || p.Kind != authn.KindAPIKey {
			t.Fatalf("good key from another client: %v %v", p, err)
		}
	})
}
