package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// Refreshes are committed in batches (refresh_batch.go). These tests pin
// down that a batch answers each refresh as if it had run alone, one after
// the other in the batch's order.

// errCode is the stable code of an error from the service ("" for nil).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return err.Error()
}

// TestRefreshBatchAsOneByOne puts into one transaction: the two tabs of
// one session, a session's current token and its replayed predecessor (in
// both orders), a plain refresh and an unknown token.
func TestRefreshBatchAsOneByOne(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.signUp("batch@example.com", pw)
		session := func() string {
			t.Helper()
			return h.signIn("batch@example.com", pw).expect(t, 200, "").str("refresh_token")
		}
		// a and z: rotated once, so that their first token is spent.
		a0, z0 := session(), session()
		a1 := h.refresh(a0).expect(t, 200, "").str("refresh_token")
		z1 := h.refresh(z0).expect(t, 200, "").str("refresh_token")
		b0, c0 := session(), session()
		h.clock.Advance(11 * time.Second) // past the grace window: replaying a0 or z0 is a reuse

		tokens := []string{a1, b0, a0, b0, c0, "bamr_unknown", z0, z1}
		resps, fails := h.svc.RefreshBatch(ctx, tokens)
		want := []string{"", "", "auth.refresh_token_reused", "", "", "auth.refresh_token_invalid",
			"auth.refresh_token_reused", "auth.refresh_token_invalid"}
		for i := range tokens {
			if got := errCode(fails[i]); got != want[i] {
				t.Errorf("refresh %d: error %q; want %q", i, got, want[i])
			}
		}
		if t.Failed() {
			return
		}
		// Each reuse is recorded with its own caller's address, not that of
		// the batch's first refresh.
		rows, err := h.db.SQL().QueryContext(ctx, `SELECT ip FROM auth_audit WHERE action = 'refresh_token.reused' ORDER BY ip`)
		if err != nil {
			t.Fatal(err)
		}
		var ips []string
		for rows.Next() {
			var ip string
			if err := rows.Scan(&ip); err != nil {
				t.Fatal(err)
			}
			ips = append(ips, ip)
		}
		if rows.Close(); !slices.Equal(ips, []string{"192.0.2.3", "192.0.2.7"}) {
			t.Fatalf("reuses audited from %q, want 192.0.2.3 and 192.0.2.7", ips)
		}
		// The two tabs got the same successor, which works once more.
		if resps[1].RefreshToken == "" || resps[1].RefreshToken != resps[3].RefreshToken {
			t.Fatalf("two tabs got %q and %q", resps[1].RefreshToken, resps[3].RefreshToken)
		}
		h.refresh(resps[1].RefreshToken).expect(t, 200, "")
		h.refresh(resps[4].RefreshToken).expect(t, 200, "")
		// a1 was rotated before a0's replay revoked its session: what it got
		// is dead now, the access token at once.
		h.refresh(resps[0].RefreshToken).expect(t, 400, "auth.refresh_token_invalid")
		h.call("GET", "/v1/auth/user", nil, resps[0].AccessToken).expect(t, 401, "")
		// Each answer is for its own session.
		for _, i := range []int{0, 1, 4} {
			if got := resps[i].User; got == nil || got.Email != "batch@example.com" || resps[i].AccessToken == "" {
				t.Fatalf("refresh %d answered %+v", i, resps[i])
			}
		}
		sids := map[any]bool{}
		for _, i := range []int{0, 1, 4} {
			sids[jwtClaims(t, resps[i].AccessToken)["sid"]] = true
		}
		if len(sids) != 3 {
			t.Fatalf("three sessions refreshed into %d sids", len(sids))
		}
	})
}

// TestConcurrentRefreshesStayInTheirSessions: many clients refreshing at
// once through the listener (so that refreshes share transactions), each
// along its own chain: every refresh succeeds and answers for its own
// session and user.
func TestConcurrentRefreshesStayInTheirSessions(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		const (
			users    = 3
			sessions = 12 // per user
			rounds   = 6
		)
		type chain struct {
			email, sid, token string
		}
		var chains []*chain
		for u := range users {
			email := fmt.Sprintf("chain%d@example.com", u)
			h.signUp(email, pw)
			for range sessions {
				r := h.signIn(email, pw).expect(t, 200, "")
				sid, _ := jwtClaims(t, r.str("access_token"))["sid"].(string)
				chains = append(chains, &chain{email: email, sid: sid, token: r.str("refresh_token")})
			}
		}
		var wg sync.WaitGroup
		errc := make(chan error, len(chains))
		for _, c := range chains {
			wg.Go(func() {
				for round := range rounds {
					r := h.refresh(c.token)
					if r.Status != 200 {
						errc <- fmt.Errorf("%s round %d: %d %s", c.sid, round, r.Status, r.Raw)
						return
					}
					claims := jwtClaims(t, r.str("access_token"))
					user, _ := r.Body["user"].(map[string]any)
					if claims["sid"] != c.sid || user["email"] != c.email {
						errc <- fmt.Errorf("%s (%s) round %d: answered sid %v for %v", c.sid, c.email, round,
							claims["sid"], user["email"])
						return
					}
					c.token = r.str("refresh_token")
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
	})
}

// TestRefreshBatchCommitLost loses the answer to a batch's COMMIT
// (PostgreSQL, through storetest's cutter): the tokens rotated, unbeknown
// to the service. Each refresh then runs again alone, finds its token just
// used (within the grace window) and answers the successor the lost
// commit stored, so every client gets a pair that works, and no session is
// taken for a replay.
func TestRefreshBatchCommitLost(t *testing.T) {
	db, cut := storetest.OpenCutOnCommit(t, auth.Migrations...)
	h := newHarness(t, db, nil)
	ctx := context.Background()
	h.signUp("lost@example.com", pw)
	tokens := []string{
		h.signIn("lost@example.com", pw).expect(t, 200, "").str("refresh_token"),
		h.signIn("lost@example.com", pw).expect(t, 200, "").str("refresh_token"),
	}
	testenv.WaitFor(t, 10*time.Second, "the outbox to drain", func() bool {
		var n int
		return db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM bam_outbox").Scan(&n) == nil && n == 0
	})
	// Three statements or more: the batch's transaction (reads, marks,
	// inserts, touches), not the outbox relay's poll (one or two).
	cut.Arm(3)
	resps, fails := h.svc.RefreshBatch(ctx, tokens)
	if cut.Cuts() != 1 {
		t.Fatalf("%d commits cut, want 1", cut.Cuts())
	}
	for i := range tokens {
		if fails[i] != nil {
			t.Fatalf("refresh %d after the lost commit: %v", i, fails[i])
		}
		next := h.refresh(resps[i].RefreshToken).expect(t, 200, "").str("refresh_token")
		h.refresh(next).expect(t, 200, "")
	}
}
