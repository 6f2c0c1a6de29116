package auth_test

import (
	"fmt"
	"testing"
)

// TestSignUpThrottledPerIP: every sign-up counts against its IP; past the
// allowance, the next one waits (each costs a hash and a mail).
func TestSignUpThrottledPerIP(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		// One instant for all: the 20th attempt blocks for a second, and
		// 20 sign-ups under -race on a slow host take longer than that.
		h.clock.Freeze()
		for i := range 20 {
			h.signUp(fmt.Sprintf("user%02d@example.com", i), pw)
		}
		r := h.call("POST", "/v1/auth/signup", map[string]any{"email": "one-too-many@example.com", "password": pw}, "")
		r.expect(t, 429, "auth.too_many_attempts")
		if r.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After on the 429")
		}
	})
}
