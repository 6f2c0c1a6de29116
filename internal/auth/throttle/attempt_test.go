package throttle_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func mustAttempt(t *testing.T, th *throttle.Throttle, keys ...string) time.Duration {
	t.Helper()
	d, err := th.Attempt(context.Background(), keys...)
	if err != nil {
		t.Fatalf("Attempt: %v", err)
	}
	return d
}

// TestAttemptBackoff: Attempt counts like Fail while no key is blocked
// (Free of them pass, the Free-th blocks for Base, the next doubles), and
// while one is, counts nothing on any key and returns the wait.
func TestAttemptBackoff(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := newClock()
		th := newThrottle(t, db, c)
		for i := range testPolicy.Free {
			if d := mustAttempt(t, th, "acct", "ip"); d != 0 {
				t.Fatalf("attempt %d: wait %s", i+1, d)
			}
		}
		if d := mustCheck(t, th, "acct"); d != testPolicy.Base {
			t.Fatalf("after %d attempts: wait %s, want %s", testPolicy.Free, d, testPolicy.Base)
		}
		mustFail(t, th, "other") // unblocked, and counted apart
		if d := mustAttempt(t, th, "other", "acct"); d != testPolicy.Base {
			t.Fatalf("attempt while blocked: wait %s, want %s", d, testPolicy.Base)
		}
		for key, want := range map[string]int{"acct": testPolicy.Free, "ip": testPolicy.Free, "other": 1} {
			if n := failures(t, db, key); n != want {
				t.Errorf("%s: %d failures, want %d (a blocked attempt counts nothing)", key, n, want)
			}
		}
		c.Advance(testPolicy.Base)
		if d := mustAttempt(t, th, "acct"); d != 0 {
			t.Fatalf("attempt after the block: wait %s", d)
		}
		if d := mustCheck(t, th, "acct"); d != 2*testPolicy.Base {
			t.Fatalf("after one more: wait %s, want %s", d, 2*testPolicy.Base)
		}
		if err := th.Reset(context.Background(), "acct"); err != nil {
			t.Fatal(err)
		}
		if d := mustAttempt(t, th, "acct"); d != 0 {
			t.Fatalf("attempt after Reset: wait %s", d)
		}
	}, throttle.Migrations)
}

// TestAttemptConcurrent: attempts made all at once from two replicas pass
// exactly Free times; the rest wait, uncounted.
func TestAttemptConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db1, db2 := openTwice(t, d)
			c := newClock()
			replicas := []*throttle.Throttle{newThrottle(t, db1, c), newThrottle(t, db2, c)}
			const workers = 24
			var (
				wg      sync.WaitGroup
				allowed atomic.Int64
			)
			start := make(chan struct{})
			for w := range workers {
				wg.Go(func() {
					<-start
					wait, err := replicas[w%2].Attempt(context.Background(), "acct")
					if err != nil {
						t.Error(err)
						return
					}
					if wait == 0 {
						allowed.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if n := allowed.Load(); n != int64(testPolicy.Free) {
				t.Errorf("%d of %d concurrent attempts allowed, want %d", n, workers, testPolicy.Free)
			}
			if n := failures(t, db1, "acct"); n != testPolicy.Free {
				t.Errorf("%d failures counted, want %d", n, testPolicy.Free)
			}
		})
	}
}
