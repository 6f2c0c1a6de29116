package content

import (
	"context"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/realtime"
)

// RealtimeReads is how many reads of related records realtime matchers
// made for the change seq (while it is among the recent ones).
func RealtimeReads(s *Service, seq uint64) int {
	if d := s.relCache.get(seq); d != nil {
		return d.reads
	}
	return 0
}

// ObserveRoutes has fn told each route pattern Handler registers, and
// whether it requires a caller, until stop is called. One observer at a
// time.
func ObserveRoutes(fn func(pattern string, authed bool)) (stop func()) {
	routeObserver.Store(&fn)
	return func() { routeObserver.Store(nil) }
}

// Preload reads the relation data of ch as the follower does before
// publishing it, with ctx, and returns its reads and failed paths.
func Preload(ctx context.Context, s *Service, ch *realtime.Change) (reads int, failed []string) {
	s.preload(ctx, ch, s.relationPaths(ch.Collection))
	d := s.relCache.get(ch.Seq)
	if d == nil {
		return 0, nil
	}
	for p := range d.failed {
		failed = append(failed, p)
	}
	return d.reads, failed
}

// Matcher is the realtime Matcher the service makes for p's subscription.
func Matcher(ctx context.Context, s *Service, p *authn.Principal, sub realtime.Subscription) (realtime.Matcher, error) {
	return subscriber{s}.Subscribe(ctx, p, sub)
}
