package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/testenv"
)

// TestFollowRevocations publishes revocation events on a real bus (the
// embedded one, and an external NATS when BAM_TEST_NATS_URL is set) and
// watches Verify turn them into auth.token_revoked within a second.
func TestFollowRevocations(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		service := "auth" // the real stream, BAM_AUTH, on a bus of our own
		if !b.Embedded() {
			service = bustest.Service(t, b) // a stream of our own on a shared server
		}
		evType := "bam." + service + ".session.revoked"
		ctx := context.Background()
		if err := b.EnsureStream(ctx, service); err != nil {
			t.Fatal(err)
		}
		publish := func(data any) {
			t.Helper()
			ev, err := bus.NewEvent(service, evType, "usr_1", data)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}

		// Published before this replica starts: relearned through the lookback.
		publish(authn.SessionRevoked{SessionID: "ses_old", Subject: "usr_1"})
		publish([]byte(`{"nothing":"useful"}`)) // skipped, does not stop the consumer

		deny := authn.NewDenyList(authn.DenyListOptions{})
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- deny.Follow(fctx, b, deny.TokenLifetime(), authn.FollowService(service)) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Follow: %v", err)
			}
		})

		ed := newEd25519(t, "ed-1")
		c := testenv.NewClock(time.Now().Add(-2 * time.Second)) // tokens issued just before the events
		v := newVerifier(t, newJWKSServer(t, ed), c, deny)
		claims := userClaims(c.Now())
		oldTok := sign(t, ed, with(claims, "sid", "ses_old"))
		tok := sign(t, ed, claims)
		other := sign(t, ed, with(claims, "sid", "ses_2"))

		waitRevoked(t, v, oldTok, 5*time.Second) // the first delivery includes consumer setup
		for _, tk := range []string{tok, other} {
			if _, err := v.Verify(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}

		publish(authn.SessionRevoked{SessionID: "ses_1", Subject: "usr_1"})
		waitRevoked(t, v, tok, time.Second)
		if _, err := v.Verify(ctx, other); err != nil {
			t.Fatalf("another session was revoked too: %v", err)
		}

		publish(authn.SessionRevoked{Subject: "usr_1", All: true})
		waitRevoked(t, v, other, time.Second)
	})
}

// waitRevoked polls Verify until it says revoked, failing after within.
func waitRevoked(t *testing.T, v *authn.Verifier, tok string, within time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		_, err := v.Verify(context.Background(), tok)
		if errs.CodeOf(err) == authn.CodeTokenRevoked {
			t.Logf("revoked after %s", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > within {
			t.Fatalf("not revoked within %s (last: %v)", within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
