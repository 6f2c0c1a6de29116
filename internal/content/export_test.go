package content

// RealtimeReads is how many reads of related records realtime matchers
// made for the change seq (while it is among the recent ones).
func RealtimeReads(s *Service, seq uint64) int {
	d := s.relCache.get(seq)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

// ObserveRoutes has fn told each route pattern Handler registers, and
// whether it requires a caller, until stop is called. One observer at a
// time.
func ObserveRoutes(fn func(pattern string, authed bool)) (stop func()) {
	routeObserver.Store(&fn)
	return func() { routeObserver.Store(nil) }
}
