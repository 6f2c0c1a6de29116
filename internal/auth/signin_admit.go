package auth

import (
	"context"
	"fmt"
	"runtime"
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

// admitSignIn waits for a sign-in slot, or for ctx to end, and returns
// the function that frees it.
func (s *Service) admitSignIn(ctx context.Context) (release func(), err error) {
	select {
	case s.signIns <- struct{}{}:
		return func() { <-s.signIns }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: waiting to sign in: %w", ctx.Err())
	}
}
