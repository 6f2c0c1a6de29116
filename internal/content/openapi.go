package content

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/bamhq/bam/internal/errs"
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

// openAPIDoc is the document decoded once; servers is filled in per
// service. The JSON round trip catches a mapping JSON cannot hold.
var openAPIDoc = sync.OnceValues(func() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("content: openapi.yaml: %w", err)
	}
	if _, err := json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("content: openapi.yaml as JSON: %w", err)
	}
	return doc, nil
})

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
	doc, err := openAPIDoc()
	if err != nil {
		httpx.WriteError(w, r, errs.Wrap(err, errs.Internal, "", ""))
		return
	}
	out := maps.Clone(doc)
	if s.opts.PublicURL != "" {
		out["servers"] = []map[string]string{{"url": trimSlash(s.opts.PublicURL)}}
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = httpx.WriteJSON(w, http.StatusOK, out)
}
