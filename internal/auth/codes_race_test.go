package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// burst posts body to path n times at once and returns each answer's
// status and error code ("" when none); a transport error is status 0.
func (h *harness) burst(n int, path string, body map[string]any) (status []int, code []string) {
	raw, _ := json.Marshal(body)
	status, code = make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(h.URL+path, "application/json", bytes.NewReader(raw))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(b, &e)
			status[i], code[i] = resp.StatusCode, e.Code
		})
	}
	close(start)
	wg.Wait()
	return status, code
}

// codeRow reads the attempts and used flag of the one auth_codes row of kind.
func (h *harness) codeRow(kind string) (attempts int, used bool) {
	h.t.Helper()
	var u int
	if err := h.db.SQL().QueryRowContext(context.Background(), `SELECT attempts,
		CASE WHEN used_at IS NULL THEN 0 ELSE 1 END FROM auth_codes WHERE kind = $1`, kind).Scan(&attempts, &u); err != nil {
		h.t.Fatal(err)
	}
	return attempts, u == 1
}

// forgetThrottles clears the failure counts, so what answers next is the
// code itself and not the account's backoff.
func (h *harness) forgetThrottles() {
	h.t.Helper()
	if _, err := h.db.SQL().ExecContext(context.Background(), `DELETE FROM auth_throttle`); err != nil {
		h.t.Fatal(err)
	}
}

// TestConcurrentGuessesAreCapped: a burst of wrong guesses at one
// mfa_token, or at one 6-digit code, gets no more than the 5 comparisons a
// sequence would; after it, the right code is refused.
func TestConcurrentGuessesAreCapped(t *testing.T) {
	const n = 30
	t.Run("mfa_token", func(t *testing.T) {
		run(t, func(t *testing.T, h *harness) {
			const email = "burst-mfa@example.com"
			h.signUp(email, pw)
			secret, _, _ := h.enrollTOTP(h.signIn(email, pw).expect(t, 200, "").str("access_token"))
			h.clock.Advance(30 * time.Second)
			mfaToken := h.challenge(email)
			right := h.totp(secret)
			wrong := string(rune('0'+(right[0]-'0'+1)%10)) + right[1:]

			status, code := h.burst(n, "/v1/auth/mfa/challenge", map[string]any{"mfa_token": mfaToken, "code": wrong})
			evaluated := 0
			for i := range n {
				switch {
				case status[i] == 400 && code[i] == "auth.mfa_invalid_code":
					evaluated++
				case status[i] == 400 && code[i] == "auth.mfa_token_invalid", status[i] == 429:
				default:
					t.Fatalf("answer %d: %d %q", i, status[i], code[i])
				}
			}
			// The throttle blocks only after 5 failures, so exactly 5 are
			// evaluated: more is the race, fewer a lost guess.
			if attempts, _ := h.codeRow("mfa_challenge"); evaluated != 5 || attempts != 5 {
				t.Fatalf("%d of %d concurrent guesses evaluated, attempts = %d; want 5", evaluated, n, attempts)
			}
			h.forgetThrottles()
			h.answer(mfaToken, map[string]any{"code": right}).expect(t, 400, "auth.mfa_token_invalid")
			// The account still signs in with a fresh challenge.
			h.answer(h.challenge(email), map[string]any{"code": right}).expect(t, 200, "")
		})
	})
	t.Run("otp", func(t *testing.T) {
		run(t, func(t *testing.T, h *harness) {
			const email = "burst-otp@example.com"
			h.signUp(email, pw)
			h.awaitMail(email)
			h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
			right := mailCode(t, h.awaitMail(email))
			wrong := string(rune('0'+(right[0]-'0'+1)%10)) + right[1:]

			status, code := h.burst(n, "/v1/auth/verify", map[string]any{"type": "otp", "email": email, "code": wrong})
			for i := range n {
				if !(status[i] == 400 && code[i] == "auth.code_invalid") && status[i] != 429 {
					t.Fatalf("answer %d: %d %q", i, status[i], code[i])
				}
			}
			// The throttles block only after 5 failures, so the code has had
			// its 5 tries, no more, and is burned.
			if attempts, used := h.codeRow("otp"); attempts != 5 || !used {
				t.Fatalf("after %d concurrent guesses: attempts = %d, burned = %v; want 5, burned", n, attempts, used)
			}
			h.forgetThrottles()
			h.verify(map[string]any{"type": "otp", "email": email, "code": right}).expect(t, 400, "auth.code_invalid")
		})
	})
}

// TestRightCodeFirstTry: claiming an attempt before comparing does not cost
// a right code its first try.
func TestRightCodeFirstTry(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const email = "first@example.com"
		h.signUp(email, pw)
		h.awaitMail(email)
		h.call("POST", "/v1/auth/otp", map[string]any{"email": email}, "").expect(t, 202, "")
		code := mailCode(t, h.awaitMail(email))
		h.verify(map[string]any{"type": "otp", "email": email, "code": code}).expect(t, 200, "")
	})
}
