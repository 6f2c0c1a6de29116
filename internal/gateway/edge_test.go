package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/gateway"
)

// TestMatchHostMethodPrefix: longest prefix first, then a host-specific
// route before a host-less one, then a method-specific one before any.
func TestMatchHostMethodPrefix(t *testing.T) {
	g, err := gateway.New(gateway.Table{Routes: []gateway.Route{
		{Prefix: "/v1/orders/", Upstream: "orders"},
		{Prefix: "/v1/orders/", Upstream: "orders-write", Methods: []string{"POST", "DELETE"}},
		{Prefix: "/v1/orders/", Upstream: "shop-orders", Host: "shop.example.com"},
		{Prefix: "/v1/orders/export", Upstream: "export", Methods: []string{"GET"}},
		{Prefix: "/v1/", Upstream: "v1"},
		{Prefix: "/admin/", Upstream: "admin", Host: "admin.example.com"},
	}}, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, host, path, want string }{
		{"GET", "api.example.com", "/v1/orders/42", "orders"},
		{"POST", "api.example.com", "/v1/orders/42", "orders-write"},
		{"GET", "shop.example.com", "/v1/orders/42", "shop-orders"},
		{"GET", "SHOP.example.com:8443", "/v1/orders/42", "shop-orders"}, // port and case ignored
		{"POST", "shop.example.com", "/v1/orders/42", "shop-orders"},     // host beats methods
		{"GET", "api.example.com", "/v1/orders", "orders"},               // prefix without its slash
		{"GET", "api.example.com", "/v1/orders/export/2024", "export"},   // longest prefix
		{"GET", "api.example.com", "/v1/orders/export.csv", "orders"},    // prefixes end at a segment boundary
		{"HEAD", "api.example.com", "/v1/orders/export", "export"},       // HEAD goes where GET does
		{"POST", "api.example.com", "/v1/orders/export", "orders-write"},
		{"PUT", "api.example.com", "/v1/orders/export", "orders"},
		{"GET", "api.example.com", "/v1/users", "v1"},
		{"GET", "admin.example.com", "/admin/x", "admin"},
		{"GET", "api.example.com", "/admin/x", ""},
		{"GET", "api.example.com", "/v2/x", ""},
	} {
		r, ok := g.Match(tt.method, tt.host, tt.path)
		if r.Upstream != tt.want || ok != (tt.want != "") {
			t.Errorf("Match(%s %s%s) = %q; want %q", tt.method, tt.host, tt.path, r.Upstream, tt.want)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	up := echoServer(t, "a")
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /v1/orders/, upstream: %s, methods: [GET, POST]}\n", up))
	resp, body := do(t, "DELETE", srv.URL+"/v1/orders/1", nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" || body["code"] != "request.method_not_allowed" {
		t.Errorf("DELETE = %d Allow %q %v", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

func TestStripPrefixAndShadowing(t *testing.T) {
	up := echoServer(t, "orders")
	srv, _ := front(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /v1/orders/, upstream: %[1]s, strip_prefix: true}
    - {path: /raw/, upstream: %[1]s}
    - {path: /v1/auth/custom/, upstream: %[1]s, override: true}
`, up))
	for path, want := range map[string]string{
		"/v1/orders/42?x=1":   "/42",
		"/v1/orders":          "/",
		"/raw/keep":           "/raw/keep",
		"/v1/auth/custom/hey": "/v1/auth/custom/hey",
	} {
		resp, body := do(t, "GET", srv.URL+path, nil)
		if resp.StatusCode != 200 || body["path"] != want {
			t.Errorf("GET %s: %d, upstream saw %v; want %s", path, resp.StatusCode, body["path"], want)
		}
	}
	// Without override, a user route inside a built-in one is refused, by name.
	c, err := loadConfig(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /v1/auth/custom/, upstream: %s}\n", up))
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{Builtin: []gateway.Route{{Prefix: "/v1/auth/", Upstream: "auth"}}, Log: quiet()}
	defer b.Close()
	_, err = b.New(c, gateway.Options{Log: quiet()})
	if err == nil || !strings.Contains(err.Error(), "gateway.routes[0] (/v1/auth/custom/)") || !strings.Contains(err.Error(), "override: true") {
		t.Errorf("shadowing route: %v", err)
	}
}

// TestEdgeAuth: policies none, optional and required; roles and
// permissions; the Authorization header reaches the upstream untouched.
func TestEdgeAuth(t *testing.T) {
	up := echoServer(t, "orders")
	srv, a := front(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /open/, upstream: %[1]s, auth: none}
    - {path: /maybe/, upstream: %[1]s, auth: optional}
    - {path: /orders/, upstream: %[1]s, auth: required}
    - {path: /shop/, upstream: %[1]s, auth: required, roles: [customer, staff]}
    - {path: /admin/, upstream: %[1]s, auth: required, permissions: [orders.write, orders.delete]}
`, up))
	user := "Bearer " + a.token("u1", nil)
	customer := "Bearer " + a.token("u2", map[string]any{"roles": []string{"customer"}})
	writer := "Bearer " + a.token("u3", map[string]any{"permissions": []string{"orders.write"}})
	admin := "Bearer " + a.token("u4", map[string]any{"permissions": []string{"orders.write", "orders.delete"}})
	expired := "Bearer " + a.token("u5", map[string]any{"exp": 1_000_000_000})
	forged := "Bearer " + newFakeAuth(t).token("u1", nil) // another key, same kid
	wrongAud := "Bearer " + a.token("u6", map[string]any{"aud": "other"})
	for _, tt := range []struct {
		path, authz string
		status      int
		code        string
	}{
		{"/open/x", "", 200, ""},
		{"/open/x", forged, 200, ""}, // none: not the edge's business
		{"/maybe/x", "", 200, ""},
		{"/maybe/x", user, 200, ""},
		{"/maybe/x", forged, 401, "auth.token_invalid"},
		{"/maybe/x", "Basic dTpw", 200, ""}, // another scheme passes on
		{"/orders/x", "", 401, "auth.token_missing"},
		{"/orders/x", user, 200, ""},
		{"/orders/x", expired, 401, "auth.token_expired"},
		{"/orders/x", wrongAud, 401, "auth.token_invalid"},
		{"/orders/x", "Bearer not.a.jwt", 401, "auth.token_malformed"},
		{"/orders/x", "Bearer bam_unknownkey", 401, ""},
		{"/shop/x", user, 403, "auth.forbidden"},
		{"/shop/x", customer, 200, ""},
		{"/admin/x", writer, 403, "auth.forbidden"},
		{"/admin/x", admin, 200, ""},
		{"/v1/auth/anything", forged, 401, "auth.token_invalid"}, // built-in routes: optional at the edge
	} {
		resp, body := do(t, "GET", srv.URL+tt.path, map[string]string{"Authorization": tt.authz})
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s with %.20q = %d %v; want %d", tt.path, tt.authz, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.status == 200 && body["auth"] != tt.authz {
			t.Errorf("GET %s: upstream saw Authorization %q, want %q", tt.path, body["auth"], tt.authz)
		}
		if tt.status >= 400 {
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("GET %s: Content-Type %q", tt.path, ct)
			}
			if tt.code != "" && body["code"] != tt.code {
				t.Errorf("GET %s: code %v, want %s", tt.path, body["code"], tt.code)
			}
		}
	}
}

// TestRateLimits: the default limit per IP and a route's own per user,
// with RateLimit-* headers and a 429 problem with Retry-After.
func TestRateLimits(t *testing.T) {
	up := echoServer(t, "orders")
	srv, a := front(t, fmt.Sprintf(`gateway:
  rate_limit: {per: ip, rps: 1, burst: 5}
  routes:
    - {path: /orders/, upstream: %[1]s, auth: optional, rate_limit: {per: user, rps: 1, burst: 2}}
    - {path: /free/, upstream: %[1]s}
`, up))
	alice := map[string]string{"Authorization": "Bearer " + a.token("alice", nil)}
	bob := map[string]string{"Authorization": "Bearer " + a.token("bob", nil)}
	var statuses []int
	for i := range 3 {
		resp, body := do(t, "GET", srv.URL+"/orders/1", alice)
		statuses = append(statuses, resp.StatusCode)
		if resp.Header.Get("RateLimit-Limit") == "" || resp.Header.Get("RateLimit-Remaining") == "" || resp.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("request %d: no RateLimit-* headers: %v", i, resp.Header)
		}
		if resp.StatusCode == 429 && (resp.Header.Get("Retry-After") == "" || body["code"] != "gateway.rate_limited" ||
			resp.Header.Get("Content-Type") != "application/problem+json") {
			t.Errorf("429 without Retry-After or problem: %v %v", resp.Header, body)
		}
	}
	if fmt.Sprint(statuses) != "[200 200 429]" {
		t.Errorf("alice got %v; want [200 200 429] (burst 2 per user)", statuses)
	}
	if resp, _ := do(t, "GET", srv.URL+"/orders/1", bob); resp.StatusCode != 200 {
		t.Errorf("bob has his own bucket, got %d", resp.StatusCode)
	}
	// The default limit counts per IP across routes: 3 taken above, 2 left.
	statuses = nil
	for range 3 {
		resp, _ := do(t, "GET", srv.URL+"/free/x", nil)
		statuses = append(statuses, resp.StatusCode)
	}
	if fmt.Sprint(statuses) != "[200 429 429]" && fmt.Sprint(statuses) != "[200 200 429]" {
		t.Errorf("default per-ip limit: %v", statuses)
	}
}

// TestVersions: /v1 and /v2 go to different upstreams; the deprecated one
// says so, with its sunset.
func TestVersions(t *testing.T) {
	v1, v2 := echoServer(t, "v1"), echoServer(t, "v2")
	srv, _ := front(t, fmt.Sprintf(`gateway:
  routes:
    - {path: /v1/orders/, upstream: %s, deprecated: true, sunset: 2030-06-30T23:59:59Z}
    - {path: /v2/orders/, upstream: %s}
`, v1, v2))
	resp, body := do(t, "GET", srv.URL+"/v1/orders/1", nil)
	if body["tag"] != "v1" || resp.Header.Get("Deprecation") != "true" ||
		resp.Header.Get("Sunset") != "Sun, 30 Jun 2030 23:59:59 GMT" {
		t.Errorf("v1: %v Deprecation %q Sunset %q", body, resp.Header.Get("Deprecation"), resp.Header.Get("Sunset"))
	}
	resp, body = do(t, "GET", srv.URL+"/v2/orders/1", nil)
	if body["tag"] != "v2" || resp.Header.Get("Deprecation") != "" || resp.Header.Get("Sunset") != "" {
		t.Errorf("v2: %v %v", body, resp.Header)
	}
}

// TestCORSAndSecurityHeaders: preflight answered at the edge; simple
// requests get the allowed origin; every response the security headers.
func TestCORSAndSecurityHeaders(t *testing.T) {
	up := echoServer(t, "orders")
	srv, _ := front(t, fmt.Sprintf(`gateway:
  cors_origins: [https://app.example.com]
  cors_credentials: true
  cors_max_age: 1h
  routes:
    - {path: /orders/, upstream: %s}
`, up))
	resp, _ := do(t, "OPTIONS", srv.URL+"/orders/1", map[string]string{"Origin": "https://app.example.com",
		"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization, content-type"})
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") != "3600" ||
		h.Get("Access-Control-Allow-Methods") != "PATCH" || h.Get("Access-Control-Allow-Headers") != "authorization, content-type" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	resp, _ = do(t, "OPTIONS", srv.URL+"/orders/1", map[string]string{"Origin": "https://evil.example",
		"Access-Control-Request-Method": "GET"})
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := do(t, "GET", srv.URL+"/orders/1", map[string]string{"Origin": "https://app.example.com"})
	if body["tag"] != "orders" || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "RateLimit-Remaining") {
		t.Errorf("simple request: %v", resp.Header)
	}
	for _, path := range []string{"/orders/1", "/nowhere"} {
		resp, _ := do(t, "GET", srv.URL+path, nil)
		if !slices.Contains(resp.Header.Values("Vary"), "Origin") {
			t.Errorf("GET %s without Origin: Vary %q; a cache could give it to a cross-origin page", path, resp.Header.Values("Vary"))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: no security headers: %v", path, resp.Header)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: HSTS over plain HTTP", path)
		}
	}
}

// TestTrustedProxies: behind a trusted proxy the client is the right-most
// untrusted X-Forwarded-For hop; otherwise the TCP peer.
func TestTrustedProxies(t *testing.T) {
	up := echoServer(t, "orders")
	for _, tt := range []struct{ trusted, xff, want string }{
		{"[]", "6.6.6.6", "127.0.0.1"},
		{"[127.0.0.0/8, 10.0.0.0/8]", "6.6.6.6, 203.0.113.7, 10.1.2.3", "203.0.113.7"},
		{"[127.0.0.1]", "203.0.113.9", "203.0.113.9"},
	} {
		srv, _ := front(t, fmt.Sprintf("gateway:\n  trusted_proxies: %s\n  routes:\n    - {path: /o/, upstream: %s}\n", tt.trusted, up))
		_, body := do(t, "GET", srv.URL+"/o/", map[string]string{"X-Forwarded-For": tt.xff})
		if body["xff"] != tt.want {
			t.Errorf("trusted %s, XFF %q: upstream saw %v, want %s", tt.trusted, tt.xff, body["xff"], tt.want)
		}
	}
}

// TestAPIKeyCheckNamesTheClient: the gateway tells auth which client
// presented an API key (the address it derives from trusted proxies), so a
// refused key counts against that client, not against the gateway.
func TestAPIKeyCheckNamesTheClient(t *testing.T) {
	up := echoServer(t, "orders")
	for _, tt := range []struct{ trusted, xff, header, scheme, want string }{
		{"[]", "6.6.6.6", "Authorization", "Bearer ", "127.0.0.1"},
		{"[127.0.0.0/8]", "203.0.113.7", "Authorization", "Bearer ", "203.0.113.7"},
		{"[127.0.0.0/8]", "203.0.113.8", "X-API-Key", "", "203.0.113.8"},
		// The scheme in any case, spaces around the key: checked all the
		// same, so named all the same.
		{"[127.0.0.0/8]", "203.0.113.9", "Authorization", "bearer ", "203.0.113.9"},
		{"[127.0.0.0/8]", "203.0.113.10", "Authorization", "BEARER  ", "203.0.113.10"},
	} {
		srv, a := front(t, fmt.Sprintf("gateway:\n  rate_limit: {rps: 0}\n  trusted_proxies: %s\n  routes:\n    - {path: /o/, upstream: %s, auth: required}\n", tt.trusted, up))
		key := tt.scheme + "bam_refused" + tt.xff
		if resp, _ := do(t, "GET", srv.URL+"/o/", map[string]string{"X-Forwarded-For": tt.xff, tt.header: key}); resp.StatusCode != 401 {
			t.Fatalf("refused key through %s: %d, want 401", tt.header, resp.StatusCode)
		}
		if got, _ := a.keyClient.Load().(string); got != tt.want {
			t.Errorf("trusted %s, XFF %q, %s: auth was told the client is %q, want %s", tt.trusted, tt.xff, tt.header, got, tt.want)
		}
	}
}

// TestRouteLimitsAreTheRoutes: two routes on one prefix, for other
// methods, have buckets of their own — GETs do not spend the POST route's
// budget, and one POST does not block GETs, per client or per route.
func TestRouteLimitsAreTheRoutes(t *testing.T) {
	up := echoServer(t, "orders")
	for _, per := range []string{"ip", "route"} {
		srv, _ := front(t, fmt.Sprintf(`gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /v1/orders/, upstream: %[1]s, auth: none, methods: [GET], rate_limit: {per: %[2]s, rps: 100, burst: 100}}
    - {path: /v1/orders/, upstream: %[1]s, auth: none, methods: [POST], rate_limit: {per: %[2]s, rps: 0.01, burst: 1}}
`, up, per))
		for range 3 {
			if resp, _ := do(t, "GET", srv.URL+"/v1/orders/1", nil); resp.StatusCode != 200 {
				t.Fatalf("per %s: GET %d", per, resp.StatusCode)
			}
		}
		if resp, _ := do(t, "POST", srv.URL+"/v1/orders/", nil); resp.StatusCode == 429 {
			t.Fatalf("per %s: the first POST was refused: the GETs spent its bucket", per)
		}
		if resp, _ := do(t, "GET", srv.URL+"/v1/orders/1", nil); resp.StatusCode != 200 {
			t.Fatalf("per %s: a GET after the POST got %d: the POST's bucket blocks it", per, resp.StatusCode)
		}
	}
}
