package auth_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/httpx/openapitest"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestOpenAPIMatchesRoutes holds openapi.yaml to the routes the service
// serves, both ways: a route added without documentation fails it, and so
// does documentation of a route that is not served. Public routes must be
// documented without required security, authenticated ones with it. Every
// documented operation is routed: a request reaches a handler, not the
// mux's 404 or 405, which also catches a route registered around the
// router, where the observer cannot see it.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openapitest.Load(t, auth.OpenAPI)
	h := newHarness(t, storetest.Open(t, store.SQLite, auth.Migrations...), nil)
	rec := openapitest.NewRecorder(t)
	stop := auth.ObserveRoutes(rec.Observe)
	h.svc.Handler()
	stop()
	openapitest.CheckRoutes(t, doc, rec.Served(), func(method, path string) (int, string) {
		r := h.call(method, path, nil, "")
		return r.Status, r.str("code")
	})
}

// TestOpenAPIDocument checks what the document promises beyond its routes:
// the problem schema has bam's members, every operation is named and
// answers errors as problem+json.
func TestOpenAPIDocument(t *testing.T) {
	openapitest.CheckDocument(t, openapitest.Load(t, auth.OpenAPI))
}

// TestOpenAPIServed fetches the document from the service: JSON, the same
// operations, and the service's own URL as its server.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, storetest.Open(t, store.SQLite, auth.Migrations...), nil)
	r := h.call("GET", "/v1/auth/openapi.json", nil, "").expect(t, 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	served := openapitest.Load(t, []byte(r.Raw))
	if len(served.Servers) != 1 || served.Servers[0].URL != h.URL {
		raw, _ := json.Marshal(served.Servers)
		t.Errorf("servers = %s, want the service's URL %s", raw, h.URL)
	}
	if got, want := len(openapitest.Ops(served)), len(openapitest.Ops(openapitest.Load(t, auth.OpenAPI))); got != want {
		t.Errorf("served document has %d operations, openapi.yaml %d", got, want)
	}
}
