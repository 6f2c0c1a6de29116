package auth

// ObserveRoutes has fn told each route pattern Handler registers, and
// whether it requires a caller, until stop is called. One observer at a
// time.
func ObserveRoutes(fn func(pattern string, authed bool)) (stop func()) {
	routeObserver.Store(&fn)
	return func() { routeObserver.Store(nil) }
}
