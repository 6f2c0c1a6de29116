package content

import (
	_ "embed"
	"net/http"
	"sync/atomic"

	"github.com/bamhq/bam/internal/httpx"
)

// OpenAPI is the service's API description (OpenAPI 3.1, YAML). A test
// holds it to the routes Handler registers, both ways.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPIPath is where the document is served, as JSON (the gateway reads
// it at its first route prefix + openapi.json).
const openAPIPath = "/v1/collections/openapi.json"

// openAPIDoc is the document, served with the public URL (when set) as
// its server.
var openAPIDoc = httpx.NewOpenAPIDoc("content", OpenAPI)

// routeObserver, when set (only by tests), is told each route pattern
// Handler registers and whether it requires a caller.
var routeObserver atomic.Pointer[func(pattern string, authed bool)]

// docRoutes serves the API document and returns the router the other
// routes are registered through (observed in tests).
func (s *Service) docRoutes(r router) router {
	if obs := routeObserver.Load(); obs != nil {
		observe := *obs
		inner := r
		r = router{
			open:  func(pattern string, h handlerFunc) { observe(pattern, false); inner.open(pattern, h) },
			admin: func(pattern string, h handlerFunc) { observe(pattern, true); inner.admin(pattern, h) },
		}
	}
	r.open("GET "+openAPIPath, s.handleOpenAPI)
	return r
}

func (s *Service) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ caller) {
	openAPIDoc.Serve(w, r, s.opts.PublicURL)
}
