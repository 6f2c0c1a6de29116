package auth_test

import (
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
)

// TestPruneCodes: codes a day past their expiry are deleted, fresher ones
// stay.
func TestPruneCodes(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("prune@example.com", pw) // leaves a verification code (24 h)
		count := func() (n int) {
			if err := h.db.SQL().QueryRowContext(t.Context(), `SELECT count(*) FROM auth_codes`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if count() == 0 {
			t.Fatal("sign-up left no code to prune")
		}
		if n, err := auth.PruneCodes(t.Context(), h.db.SQL(), h.clock.Now()); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) codes that have not expired", n, err)
		}
		n, err := auth.PruneCodes(t.Context(), h.db.SQL(), h.clock.Now().Add(49*time.Hour))
		if err != nil || n == 0 || count() != 0 {
			t.Fatalf("pruned %d (%v), %d left; want all expired codes gone", n, err, count())
		}
	})
}
