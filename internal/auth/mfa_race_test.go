package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
)

// TestMFAThrottleHoldsUnderConcurrency: wrong codes sent all at once,
// spread over many mfa_tokens of one account, get no more guesses than the
// account-wide allowance: each attempt is counted before its code is
// compared, in one statement, so concurrent ones cannot all pass a check
// made before any of them was counted.
func TestMFAThrottleHoldsUnderConcurrency(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "race@example.com"
		h.signUp(email, pw)
		h.enrollTOTP(h.signIn(email, pw).expect(t, 200, "").str("access_token"))
		h.clock.Advance(30 * time.Second)
		h.clock.Freeze() // no block may expire during the burst

		const tokens, perToken = 8, 5 // each mfa_token allows 5 tries
		mfaTokens := make([]string, tokens)
		for i := range mfaTokens {
			mfaTokens[i] = h.challenge(email)
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[string]int{}
		)
		start := make(chan struct{})
		for _, tok := range mfaTokens {
			for range perToken {
				wg.Go(func() {
					<-start
					r := h.answer(tok, map[string]any{"code": "123456"})
					mu.Lock()
					statuses[r.str("code")]++
					mu.Unlock()
				})
			}
		}
		close(start)
		wg.Wait()
		compared := statuses["auth.mfa_invalid_code"]
		if compared != throttle.DefaultFree || compared+statuses["auth.too_many_attempts"] != tokens*perToken {
			t.Fatalf("answers by code %v: %d codes compared; want %d, the rest 429", statuses, compared, throttle.DefaultFree)
		}
	})
}
