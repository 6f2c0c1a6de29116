package auth_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// loadOpenAPI parses and validates an OpenAPI 3.1 document.
func loadOpenAPI(t *testing.T, raw []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
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

// routeKey is "METHOD /path/{}" with parameter names erased, so a renamed
// parameter is not a missing route.
func routeKey(method, path string) string {
	return method + " " + wildcard.ReplaceAllString(path, "{}")
}

// documentedOp is an operation of the document.
type documentedOp struct {
	method, path string
	op           *openapi3.Operation
}

func documentedOps(doc *openapi3.T) map[string]documentedOp {
	ops := map[string]documentedOp{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[routeKey(method, path)] = documentedOp{method, path, op}
		}
	}
	return ops
}

// servedRoutes returns the routes h's Handler registers, each with whether
// it requires a caller: recorded as they are registered, not listed by hand.
func servedRoutes(t *testing.T, svc *auth.Service) map[string]bool {
	t.Helper()
	served := map[string]bool{}
	var mu sync.Mutex // a parallel test's Handler may register too (the same routes)
	stop := auth.ObserveRoutes(func(pattern string, authed bool) {
		mu.Lock()
		defer mu.Unlock()
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			t.Errorf("route %q has no method: document-check it by hand or give it one", pattern)
			return
		}
		served[routeKey(method, path)] = authed
	})
	svc.Handler()
	stop()
	if len(served) == 0 {
		t.Fatal("no routes observed: is s.docRoutes still called first in Handler?")
	}
	return served
}

// TestOpenAPIMatchesRoutes holds openapi.yaml to the routes the service
// serves, both ways: a route added without documentation fails it, and so
// does documentation of a route that is not served. Public routes must be
// documented without required security, authenticated ones with it.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t, auth.OpenAPI)
	h := newHarness(t, storetest.Open(t, store.SQLite, auth.Migrations...), nil)
	served := servedRoutes(t, h.svc)
	documented := documentedOps(doc)

	var missing, extra []string
	for key, authed := range served {
		d, ok := documented[key]
		if !ok {
			missing = append(missing, key)
			continue
		}
		if open := allowsAnonymous(doc, d.op); authed && open {
			t.Errorf("%s requires a caller but is documented with security: [] (or an empty requirement)", key)
		} else if !authed && !open {
			t.Errorf("%s is public but documented as requiring credentials: add security: [] (or [{}, …] when optional)", key)
		}
		if authed && d.op.Responses.Value("401") == nil {
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

	// Every documented operation is routed: a request reaches a handler,
	// not the mux's 404 or 405. This also catches a route registered
	// around the router, where the observer cannot see it.
	for key, d := range documented {
		path := wildcard.ReplaceAllString(d.path, "probe")
		r := h.call(d.method, path, nil, "")
		if r.Status == 405 || (r.Status == 404 && r.str("code") == "request.route_not_found") {
			t.Errorf("%s: documented, but %s %s answers %d %s", key, d.method, path, r.Status, r.Raw)
		}
	}
}

// allowsAnonymous reports whether op may be called without credentials:
// its security (or the document's) is empty or has an empty alternative.
func allowsAnonymous(doc *openapi3.T, op *openapi3.Operation) bool {
	sec := doc.Security
	if op.Security != nil {
		sec = *op.Security
	}
	return len(sec) == 0 || slices.ContainsFunc(sec, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
}

// TestOpenAPIDocument checks what the document promises beyond its routes:
// the problem schema has bam's members, every operation is named and
// answers errors as problem+json.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t, auth.OpenAPI)
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
	for key, d := range documentedOps(doc) {
		if d.op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[d.op.OperationID]; dup {
			t.Errorf("operationId %s used by %s and %s", d.op.OperationID, key, other)
		}
		ids[d.op.OperationID] = key
		for code, resp := range d.op.Responses.Map() {
			if code[0] != '4' && code[0] != '5' || resp.Value == nil {
				continue
			}
			if resp.Value.Content.Get("application/problem+json") == nil {
				t.Errorf("%s: error response %s is not application/problem+json", key, code)
			}
		}
	}
}

// TestOpenAPIServed fetches the document from the service: JSON, the same
// operations, and the service's own URL as its server.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, storetest.Open(t, store.SQLite, auth.Migrations...), nil)
	r := h.call("GET", "/v1/auth/openapi.json", nil, "").expect(t, 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	served := loadOpenAPI(t, []byte(r.Raw))
	if len(served.Servers) != 1 || served.Servers[0].URL != h.URL {
		raw, _ := json.Marshal(served.Servers)
		t.Errorf("servers = %s, want the service's URL %s", raw, h.URL)
	}
	if got, want := len(documentedOps(served)), len(documentedOps(loadOpenAPI(t, auth.OpenAPI))); got != want {
		t.Errorf("served document has %d operations, openapi.yaml %d", got, want)
	}
}
