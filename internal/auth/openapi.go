package auth

import (
	_ "embed"
	"net/http"
	"sync/atomic"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/httpx"
)

// OpenAPI is the service's API description (OpenAPI 3.1, YAML). A test
// holds it to the routes Handler registers, both ways.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPIPath is where the document is served, as JSON.
const openAPIPath = "/v1/auth/openapi.json"

// openAPIDoc is the document, served with the issuer as its server.
var openAPIDoc = httpx.NewOpenAPIDoc("auth", OpenAPI)

// routeObserver, when set (only by tests), is told each route pattern
// Handler registers and whether it requires a caller: how the document is
// checked against what is served, without a list of routes kept by hand.
var routeObserver atomic.Pointer[func(pattern string, authed bool)]

// docRoutes serves the API document and returns the router the other
// routes are registered through (observed in tests).
func (s *Service) docRoutes(r router) router {
	if obs := routeObserver.Load(); obs != nil {
		observe := *obs
		inner := r
		r = router{
			public: func(pattern string, h http.HandlerFunc) { observe(pattern, false); inner.public(pattern, h) },
			authed: func(pattern string, h func(http.ResponseWriter, *http.Request, *authn.Principal)) {
				observe(pattern, true)
				inner.authed(pattern, h)
			},
		}
	}
	r.public("GET "+openAPIPath, s.handleOpenAPI)
	return r
}

func (s *Service) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	openAPIDoc.Serve(w, r, s.opts.Issuer)
}
