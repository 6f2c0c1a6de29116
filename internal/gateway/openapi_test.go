package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bamhq/bam/internal/gateway"
)

// loadOpenAPI parses and validates an OpenAPI 3.1 document.
func loadOpenAPI(t *testing.T, raw []byte) *openapi3.T {
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

// probeMethods are the methods tried on every documented path.
var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// TestOpenAPIMatchesServed holds openapi.yaml to what the gateway serves
// itself, both ways, on a gateway with no routes (so that nothing but the
// gateway answers): every documented operation answers 200 with the
// documented content type; every other method on a documented path answers
// the documented 405, in a documented content type, with an Allow header
// listing exactly the documented methods; and paths next to the documented ones are not served.
func TestOpenAPIMatchesServed(t *testing.T) {
	doc := loadOpenAPI(t, gateway.OpenAPI)
	g, err := gateway.New(gateway.Table{}, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	h := (&gateway.Docs{Gateway: g, Sources: []gateway.DocSource{gateway.OwnDocSource()}}).Wrap(g)
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if len(doc.Paths.Map()) == 0 {
		t.Fatal("no paths documented")
	}
	for path, item := range doc.Paths.Map() {
		ops := item.Operations()
		var documented []string
		for m := range ops {
			documented = append(documented, m)
		}
		sort.Strings(documented)
		for _, method := range probeMethods {
			rec := serve(method, path)
			op, ok := ops[method]
			if !ok {
				allow := strings.Split(strings.ReplaceAll(rec.Header().Get("Allow"), " ", ""), ",")
				sort.Strings(allow)
				if rec.Code != http.StatusMethodNotAllowed || !slices.Equal(allow, documented) {
					t.Errorf("%s %s: %d, Allow %q; want 405 allowing the documented %v", method, path, rec.Code, rec.Header().Get("Allow"), documented)
				}
				ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
				for m, op := range ops {
					if r := op.Responses.Value("405"); r != nil && r.Value != nil && r.Value.Content.Get(ct) == nil {
						t.Errorf("%s %s: the 405 is served as %q, which %s %s does not document", method, path, ct, m, path)
					}
				}
				continue
			}
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s: documented, but answers %d %s", method, path, rec.Code, rec.Body)
				continue
			}
			if op.Responses.Value("405") == nil {
				t.Errorf("%s %s: other methods answer 405, which is not documented", method, path)
			}
			ok200 := op.Responses.Value("200")
			if ok200 == nil || ok200.Value == nil {
				t.Errorf("%s %s: no 200 documented", method, path)
				continue
			}
			if method == "HEAD" {
				continue
			}
			ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
			if ok200.Value.Content.Get(ct) == nil {
				t.Errorf("%s %s: served as %q, documented as %v", method, path, ct, slices.Collect(func(yield func(string) bool) {
					for k := range ok200.Value.Content {
						if !yield(k) {
							return
						}
					}
				}))
			}
		}
	}
	for _, path := range []string{"/", "/docs/", "/docs/index.html", "/openapi.json/", "/openapi.yaml", "/openapi",
		"/swagger.json", "/DOCS", "/healthz", "/readyz", "/metrics", "/.well-known/openapi.json"} {
		if _, documented := doc.Paths.Map()[path]; documented {
			continue
		}
		rec := serve("GET", path)
		var p struct{ Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != http.StatusNotFound || p.Code != "gateway.route_not_found" {
			t.Errorf("GET %s: %d %s; served but not documented", path, rec.Code, rec.Body)
		}
	}

	// The served /openapi.json merges the gateway's own document in, and
	// is itself a valid OpenAPI 3.1 document.
	rec := serve("GET", "/openapi.json")
	merged := loadOpenAPI(t, rec.Body.Bytes())
	for path := range doc.Paths.Map() {
		if merged.Paths.Find(path) == nil {
			t.Errorf("merged /openapi.json lacks the gateway's %s", path)
		}
	}
	if merged.Components == nil || merged.Components.Responses["RateLimited"] == nil {
		t.Error("merged /openapi.json lacks the gateway's component responses")
	}
}

// TestOpenAPIEdgeAnswers provokes each answer the gateway gives on a route
// before (or instead of) its upstream and checks that openapi.yaml
// documents it: a component response with that status (x-status) whose
// description names the problem code, and the problem+json media type.
func TestOpenAPIEdgeAnswers(t *testing.T) {
	doc := loadOpenAPI(t, gateway.OpenAPI)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now

	srv, a := front(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  max_body: 16
  cors_origins: [https://app.example.com]
  routes:
    - {path: /open/, upstream: %[1]s, auth: none, methods: [GET, POST]}
    - {path: /private/, upstream: %[1]s, auth: required}
    - {path: /admin/, upstream: %[1]s, auth: required, roles: [admin]}
    - {path: /limited/, upstream: %[1]s, auth: none, rate_limit: {per: route, rps: 0.001, burst: 1}}
    - {path: /down/, upstream: %[2]s, auth: none, retries: 0}
    - {path: /slow/, upstream: %[1]s, auth: none, retries: 0, timeout: 200ms}
`, up.URL, down))
	user := a.token("u1", nil)

	for _, tt := range []struct {
		name, method, path, token, body string
		header                          map[string]string
		status                          int
		code                            string
	}{
		{name: "bad path", method: "GET", path: "/open//x", status: 400, code: "gateway.bad_path"},
		{name: "no route", method: "GET", path: "/nowhere", status: 404, code: "gateway.route_not_found"},
		{name: "method", method: "DELETE", path: "/open/x", status: 405, code: "request.method_not_allowed"},
		{name: "no token", method: "GET", path: "/private/x", status: 401, code: "auth.token_missing"},
		{name: "bad token", method: "GET", path: "/private/x", token: "not.a.jwt", status: 401, code: "auth.token_"},
		{name: "no role", method: "GET", path: "/admin/x", token: user, status: 403, code: "auth.forbidden"},
		{name: "too large", method: "POST", path: "/open/x", body: strings.Repeat("x", 100), status: 413, code: "request.too_large"},
		{name: "rate limited", method: "GET", path: "/limited/x", status: 429, code: "gateway.rate_limited"},
		{name: "upstream down", method: "GET", path: "/down/x", status: 503, code: "gateway.upstream_unavailable"},
		{name: "upstream slow", method: "GET", path: "/slow/x", status: 504, code: "gateway.upstream_timeout"},
		{name: "preflight", method: "OPTIONS", path: "/open/x", status: 204,
			header: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}},
		{name: "preflight refused", method: "OPTIONS", path: "/open/x", status: 403,
			header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "rate limited" { // the first takes the only token
				mustDo(t, srv.URL, tt.method, tt.path, "", "", nil)
			}
			resp, body := mustDo(t, srv.URL, tt.method, tt.path, tt.token, tt.body, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s; want %d", resp.StatusCode, body, tt.status)
			}
			var p struct{ Code string }
			if tt.code != "" {
				if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/problem+json" {
					t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
				if err := json.Unmarshal([]byte(body), &p); err != nil || !strings.HasPrefix(p.Code, tt.code) {
					t.Fatalf("problem %s; want code %s", body, tt.code)
				}
			}
			if name := documentedAnswer(doc, resp.StatusCode, p.Code, tt.header["Origin"] != ""); name == "" {
				t.Errorf("%d %s is not documented in components.responses", resp.StatusCode, p.Code)
			} else if tt.status == 429 || tt.status == 401 || tt.status == 405 {
				for hdr := range doc.Components.Responses[name].Value.Headers {
					if resp.Header.Get(hdr) == "" {
						t.Errorf("%s documents header %s; the answer has none", name, hdr)
					}
				}
			}
		})
	}
}

// documentedAnswer names the component response documenting an answer
// with status and problem code (none for a CORS preflight), or "".
func documentedAnswer(doc *openapi3.T, status int, code string, preflight bool) string {
	for name, ref := range doc.Components.Responses {
		r := ref.Value
		if r == nil || fmt.Sprint(r.Extensions["x-status"]) != fmt.Sprint(status) ||
			strings.HasPrefix(name, "Preflight") != preflight {
			continue
		}
		if preflight || (r.Content.Get("application/problem+json") != nil && r.Description != nil &&
			strings.Contains(*r.Description, "`"+code+"`")) {
			return name
		}
	}
	return ""
}

// mustDo sends one request with an optional bearer token, body and headers.
func mustDo(t *testing.T, base, method, path, token, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
