package content_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/httpx/openapitest"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// newDocReplica is a replica on SQLite for the document tests.
func newDocReplica(t *testing.T) (*cluster, *replica) {
	b := bustest.Open(t, bustest.Embedded)
	c := newCluster(t, b)
	return c, c.start(storetest.Open(t, store.SQLite, content.Migrations...), b)
}

// TestOpenAPIMatchesRoutes holds openapi.yaml to the routes the service
// serves, both ways; admin routes document required credentials and a
// 401, the others an anonymous alternative.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openapitest.Load(t, content.OpenAPI)
	_, r := newDocReplica(t)
	rec := openapitest.NewRecorder(t)
	stop := content.ObserveRoutes(rec.Observe)
	r.svc.Handler()
	stop()
	openapitest.CheckRoutes(t, doc, rec.Served(), func(method, path string) (int, string) {
		return probe(t, method, r.URL+path)
	})
}

// TestOpenAPIDocument checks the document's conventions.
func TestOpenAPIDocument(t *testing.T) {
	openapitest.CheckDocument(t, openapitest.Load(t, content.OpenAPI))
}

// TestOpenAPIServed fetches the document where the gateway looks for it:
// JSON, every operation, the public URL as its server.
func TestOpenAPIServed(t *testing.T) {
	_, r := newDocReplica(t)
	resp := r.call("GET", "/v1/collections/openapi.json", nil, user0).expect(t, 200, "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	served := openapitest.Load(t, []byte(resp.Raw))
	if len(served.Servers) != 1 || served.Servers[0].URL != r.URL {
		t.Errorf("servers = %v, want %s", served.Servers, r.URL)
	}
	if got, want := len(openapitest.Ops(served)), len(openapitest.Ops(openapitest.Load(t, content.OpenAPI))); got != want {
		t.Errorf("served document has %d operations, openapi.yaml %d", got, want)
	}
}

// probe sends a request and returns its status and problem code, without
// waiting for a stream (GET /v1/realtime) to end.
func probe(t *testing.T, method, url string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, ""
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Code
}
