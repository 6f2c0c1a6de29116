package auth

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// OpenAPI is the service's API description (OpenAPI 3.1, YAML). A test
// holds it to the routes Handler registers, both ways.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPIPath is where the document is served, as JSON.
const openAPIPath = "/v1/auth/openapi.json"

// openAPIDoc is the document decoded once; servers is filled in per
// service, from its issuer. A mapping with non-string keys (an unquoted
// status code) would not encode as JSON: the round trip here catches it.
var openAPIDoc = sync.OnceValues(func() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("auth: openapi.yaml: %w", err)
	}
	if _, err := json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("auth: openapi.yaml as JSON: %w", err)
	}
	return doc, nil
})

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
	doc, err := openAPIDoc()
	if err != nil {
		httpx.WriteError(w, r, errs.Wrap(err, errs.Internal, "", ""))
		return
	}
	out := make(map[string]any, len(doc)+1)
	for k, v := range doc {
		out[k] = v
	}
	out["servers"] = []map[string]string{{"url": strings.TrimSuffix(s.opts.Issuer, "/")}}
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = httpx.WriteJSON(w, http.StatusOK, out)
}
