// Package openapitest holds a service's OpenAPI document to the routes it
// serves, both ways, for tests: every served route is documented (with
// security that says whether a caller is required), every documented
// operation is served, and the document keeps bam's conventions (problem
// details, named operations, errors as application/problem+json).
//
// A service records its routes as it registers them (an observer its
// router calls, set only by tests), then:
//
//	doc := openapitest.Load(t, content.OpenAPI)
//	openapitest.CheckRoutes(t, doc, served, probe)
//	openapitest.CheckDocument(t, doc)
package openapitest

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Load parses and validates an OpenAPI 3.1 document.
func Load(t testing.TB, raw []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi: invalid document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi: version %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// wildcard matches a path parameter in a Go pattern ({id}, {rest...}) or an
// OpenAPI path ({id}).
var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// RouteKey is "METHOD /path/{}" with parameter names erased, so a renamed
// parameter is not a missing route.
func RouteKey(method, path string) string {
	return method + " " + wildcard.ReplaceAllString(path, "{}")
}

// Op is an operation of the document.
type Op struct {
	Method, Path string
	Op           *openapi3.Operation
}

// Ops returns the document's operations by RouteKey.
func Ops(doc *openapi3.T) map[string]Op {
	ops := map[string]Op{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[RouteKey(method, path)] = Op{method, path, op}
		}
	}
	return ops
}

// Recorder collects the routes a handler registers, each with whether it
// requires a caller. Give Observe to the service's route observer.
type Recorder struct {
	t      testing.TB
	mu     sync.Mutex // a parallel test's handler may register too (the same routes)
	served map[string]bool
}

// NewRecorder returns an empty recorder.
func NewRecorder(t testing.TB) *Recorder { return &Recorder{t: t, served: map[string]bool{}} }

// Observe records one registered pattern ("METHOD /path").
func (r *Recorder) Observe(pattern string, authed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		r.t.Errorf("route %q has no method: document-check it by hand or give it one", pattern)
		return
	}
	r.served[RouteKey(method, path)] = authed
}

// Served returns what was recorded, failing t when nothing was.
func (r *Recorder) Served() map[string]bool {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.served) == 0 {
		r.t.Fatal("no routes observed: does the handler still register through the observed router?")
	}
	return r.served
}

// CheckRoutes holds doc to served (RouteKey → requires a caller), both
// ways: a served route must be documented, with required security when it
// requires a caller (and a 401) and with an anonymous alternative when it
// does not; a documented route must be served. probe sends a request to a
// documented path (parameters replaced by "probe") and returns the status
// and problem code: a documented route that reaches the mux's 404 or 405
// is not routed.
func CheckRoutes(t *testing.T, doc *openapi3.T, served map[string]bool, probe func(method, path string) (int, string)) {
	t.Helper()
	documented := Ops(doc)
	var missing, extra []string
	for key, authed := range served {
		d, ok := documented[key]
		if !ok {
			missing = append(missing, key)
			continue
		}
		if open := AllowsAnonymous(doc, d.Op); authed && open {
			t.Errorf("%s requires a caller but is documented with security: [] (or an empty requirement)", key)
		} else if !authed && !open {
			t.Errorf("%s is public but documented as requiring credentials: add security: [] (or [{}, …] when optional)", key)
		}
		if authed && d.Op.Responses.Value("401") == nil {
			t.Errorf("%s requires a caller but documents no 401", key)
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			extra = append(extra, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("served but not in openapi.yaml: %s", k)
	}
	for _, k := range extra {
		t.Errorf("in openapi.yaml but not served: %s", k)
	}
	for key, d := range documented {
		path := wildcard.ReplaceAllString(d.Path, "probe")
		status, code := probe(d.Method, path)
		if status == 405 || (status == 404 && code == "request.route_not_found") {
			t.Errorf("%s: documented, but %s %s answers %d %s", key, d.Method, path, status, code)
		}
	}
}

// AllowsAnonymous reports whether op may be called without credentials:
// its security (or the document's) is empty or has an empty alternative.
func AllowsAnonymous(doc *openapi3.T, op *openapi3.Operation) bool {
	sec := doc.Security
	if op.Security != nil {
		sec = *op.Security
	}
	return len(sec) == 0 || slices.ContainsFunc(sec, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
}

// CheckDocument checks what a document promises beyond its routes: the
// problem schema has bam's members, the bearer and API key schemes exist,
// every operation has a unique operationId, and error responses are
// application/problem+json.
func CheckDocument(t *testing.T, doc *openapi3.T) {
	t.Helper()
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value == nil {
		t.Fatal("no Problem schema")
	}
	for _, m := range []string{"type", "title", "status", "detail", "instance", "code", "requestId", "errors"} {
		if problem.Value.Properties[m] == nil {
			t.Errorf("Problem lacks %q", m)
		}
	}
	for _, s := range []string{"bearerAuth", "apiKey"} {
		if doc.Components.SecuritySchemes[s] == nil {
			t.Errorf("no %s security scheme", s)
		}
	}
	ids := map[string]string{}
	for key, d := range Ops(doc) {
		if d.Op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[d.Op.OperationID]; dup {
			t.Errorf("operationId %s used by %s and %s", d.Op.OperationID, key, other)
		}
		ids[d.Op.OperationID] = key
		for code, resp := range d.Op.Responses.Map() {
			if code[0] != '4' && code[0] != '5' || resp.Value == nil {
				continue
			}
			if resp.Value.Content.Get("application/problem+json") == nil {
				t.Errorf("%s: error response %s is not application/problem+json", key, code)
			}
		}
	}
}
