package auth

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// Sign-ins are admitted a few at a time: a password check is CPU-bound
// (argon2id, which the Hasher runs at most GOMAXPROCS at once), so more
// sign-ins in flight than twice that only queue for the Hasher — after
// their database reads, each of which held a pooled connection. Bounding
// them first keeps a burst or a credential-stuffing flood from bursting
// the connection pool (PostgreSQL: a pool holds few idle connections, and
// each connection opened for a burst and closed after it costs the
// server far more than a query) and from crowding out other requests'
// queries, while the Hasher stays busy: half the admitted sign-ins hash
// while the others read or write.

// signInSlots is how many sign-ins run at once.
func signInSlots() int { return 2 * runtime.GOMAXPROCS(0) }

// signInWait bounds the wait for a slot. Past it the sign-in is refused
// as busy (503 with Retry-After), so that a flood sheds load instead of
// queueing without end: a request served in the fast lane, as the
// service's own listener serves them, is not cancelled when its client
// leaves. A variable for tests.
var signInWait = 10 * time.Second

// errSignInBusy is the answer to a sign-in that waited signInWait.
var errSignInBusy = &retryError{errs.E(errs.Unavailable, "auth.busy",
	"too many sign-ins at once; try again shortly"), time.Second}

// admitSignIn waits for a sign-in slot, for ctx to end or for signInWait,
// and returns the function that frees the slot.
func (s *Service) admitSignIn(ctx context.Context) (release func(), err error) {
	select {
	case s.signIns <- struct{}{}:
		return func() { <-s.signIns }, nil
	default:
	}
	wait := time.NewTimer(signInWait)
	defer wait.Stop()
	select {
	case s.signIns <- struct{}{}:
		return func() { <-s.signIns }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: waiting to sign in: %w", ctx.Err())
	case <-wait.C:
		return nil, errSignInBusy
	}
}
