package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/transport"
)

// authDocs plays the auth service's document endpoint with the real
// openapi.yaml, counting fetches.
type authDocs struct {
	doc     []byte
	fetches atomic.Int32
	down    atomic.Bool
}

func newAuthDocs(t *testing.T) *authDocs {
	raw, err := os.ReadFile("../auth/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &authDocs{doc: b}
}

func (a *authDocs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/auth/openapi.json" || a.down.Load() {
		http.NotFound(w, r)
		return
	}
	a.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.doc)
}

func docsServer(t *testing.T, a *authDocs) (*gateway.Docs, http.Handler) {
	t.Helper()
	rt := transport.InProcess(a)
	b := &gateway.Builder{
		Builtin:   []gateway.Route{{Prefix: "/v1/auth/", Upstream: "auth", Auth: gateway.AuthOptional}},
		Upstreams: map[string]http.RoundTripper{"auth": rt},
	}
	cfg := config.Defaults()
	cfg.Gateway.Routes = []config.Route{
		{Path: "/v1/orders/", Upstream: "http://127.0.0.1:1", Methods: []string{"GET", "POST"}, Auth: "none"},
		{Path: "/v2/legacy/", Upstream: "http://127.0.0.1:1", Deprecated: true},
	}
	g, err := b.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	d := &gateway.Docs{Gateway: g, Sources: []gateway.DocSource{{Name: "auth", Path: "/v1/auth/openapi.json", Transport: rt}}}
	return d, d.Wrap(g)
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestOpenAPIMerged(t *testing.T) {
	a := newAuthDocs(t)
	d, h := docsServer(t, a)
	w := get(t, h, "/openapi.json")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatalf("merged document does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("merged document invalid: %v", err)
	}
	for _, p := range []string{"/v1/auth/token", "/v1/auth/signup", "/.well-known/jwks.json", "/v1/orders/{path}", "/v2/legacy/{path}"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("merged document lacks %s", p)
		}
	}
	if op := doc.Paths.Find("/v1/orders/{path}"); op != nil && (op.Get == nil || op.Post == nil || op.Delete != nil) {
		t.Errorf("/v1/orders/ stub has the wrong methods")
	}
	if op := doc.Paths.Find("/v2/legacy/{path}"); op != nil && (op.Get == nil || !op.Get.Deprecated) {
		t.Errorf("/v2/legacy/ stub not deprecated")
	}
	// auth's top-level security moved into its operations; signup stays public.
	if op := doc.Paths.Find("/v1/auth/user"); op == nil || op.Get == nil || op.Get.Security == nil || len(*op.Get.Security) == 0 {
		t.Errorf("GET /v1/auth/user lost its security")
	}
	if op := doc.Paths.Find("/v1/auth/signup"); op == nil || op.Post.Security == nil || len(*op.Post.Security) != 0 {
		t.Errorf("POST /v1/auth/signup should stay public")
	}

	// Cached: a second request does not fetch again; a reload does.
	get(t, h, "/openapi.json")
	if n := a.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1 (cached)", n)
	}
	d.Invalidate()
	get(t, h, "/docs")
	if n := a.fetches.Load(); n != 2 {
		t.Errorf("fetches after Invalidate = %d, want 2", n)
	}
	// auth unreachable: the last good document stays.
	a.down.Store(true)
	d.Invalidate()
	if body := get(t, h, "/openapi.json").Body.String(); !strings.Contains(body, "/v1/auth/token") {
		t.Errorf("auth's paths dropped when auth is briefly unreachable")
	}
	// Other paths still reach the gateway.
	if w := get(t, h, "/nowhere"); w.Code != http.StatusNotFound {
		t.Errorf("GET /nowhere = %d, want the gateway's 404", w.Code)
	}
}

func TestDocsPage(t *testing.T) {
	_, h := docsServer(t, newAuthDocs(t))
	w := get(t, h, "/docs")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	for _, want := range []string{
		`<span class="m POST">POST</span><span>/v1/auth/token</span>`,
		`<h2>tokens</h2>`, `<h2>your services</h2>`, `/v1/orders/{path}`, `href="/openapi.json"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	if !strings.Contains(body, "<code>scope</code>") { // POST /v1/auth/logout's query parameter
		t.Errorf("/docs lacks the parameters of an operation")
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "http://cdn") || strings.Contains(body, "https://cdn") {
		t.Errorf("/docs must be self-contained")
	}
	post := httptest.NewRecorder()
	h.ServeHTTP(post, httptest.NewRequest(http.MethodPost, "/docs", nil))
	if ct := post.Header().Get("Content-Type"); post.Code != http.StatusMethodNotAllowed || ct != "application/problem+json" ||
		post.Header().Get("Allow") != "GET, HEAD" || !strings.Contains(post.Body.String(), `"request.method_not_allowed"`) {
		t.Errorf("POST /docs = %d %s, Allow %q: %s; want a 405 problem", post.Code, ct, post.Header().Get("Allow"), post.Body)
	}
}

// TestDocsPageInBrowser loads /docs in headless Chromium, when installed,
// and checks the rendered page lists the operations.
func TestDocsPageInBrowser(t *testing.T) {
	var browser string
	for _, b := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(b); err == nil {
			browser = b
			break
		}
	}
	if browser == "" {
		t.Skip("no Chromium installed: the browser check of /docs is skipped")
	}
	_, h := docsServer(t, newAuthDocs(t))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// The flags keep Chromium off the network this machine does not have.
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+"/docs").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, "/v1/auth/token") || !strings.Contains(dom, "your services") {
		t.Fatalf("rendered /docs lacks the operations: %.500s", dom)
	}
}
