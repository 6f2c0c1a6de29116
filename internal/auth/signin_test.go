package auth_test

import (
	"fmt"
	"testing"
)

// TestSignInForgivesAccountFailures: a successful sign-in clears the
// account's failure count (only when it has one: CheckKnown), so the
// account's owner starts over; without the success, the same number of
// failures blocks it.
func TestSignInForgivesAccountFailures(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("owner@example.com", pw)
		n := 0
		signIn := func(password string) response { // each from its own address: the IP key stays out of it
			n++
			return h.callFrom(fmt.Sprintf("198.51.100.%d", n), "POST", "/v1/auth/token",
				map[string]any{"grant_type": "password", "username": "owner@example.com", "password": password})
		}
		for range 4 {
			signIn("wrong password").expect(t, 400, "auth.invalid_credentials")
		}
		signIn(pw).expect(t, 200, "")
		signIn(pw).expect(t, 200, "") // nothing to forgive
		for range 4 {
			signIn("wrong password").expect(t, 400, "auth.invalid_credentials")
		}
		signIn("wrong password").expect(t, 400, "auth.invalid_credentials") // the 5th: blocks
		signIn(pw).expect(t, 429, "auth.too_many_attempts")
	})
}
