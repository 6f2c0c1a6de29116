package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/config"
)

func loadYAML(t *testing.T, yaml string, environ ...string) (config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bam.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.Sources{File: path, Environ: append([]string{"HOME=/"}, environ...)})
}

const gatewayYAML = `
gateway:
  cors_origins: [https://app.example.com]
  routes:
    - path: /v1/orders/
      host: shop.example.com
      methods: [GET, POST]
      upstream: http://127.0.0.1:7000,http://127.0.0.1:7001
      auth: required
      roles: [customer]
      rate_limit: {per: user, rps: 20, burst: 40}
      timeout: 5s
      retries: 0
      strip_prefix: true
      deprecated: true
      sunset: 2030-01-01T00:00:00Z
    - path: /v2/orders/
      upstream: http://127.0.0.1:7002,dns+http://orders.default.svc.cluster.local:7000
`

func TestGatewayRoutesDecode(t *testing.T) {
	c, err := loadYAML(t, gatewayYAML, "BAM_GATEWAY_ROUTES=ignored")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Gateway.Routes) != 2 {
		t.Fatalf("routes = %+v", c.Gateway.Routes)
	}
	r := c.Gateway.Routes[0]
	if r.Host != "shop.example.com" || r.Timeout.String() != "5s" || r.Retries == nil || *r.Retries != 0 ||
		r.RateLimit.Per != "user" || r.RateLimit.Burst != 40 || r.Sunset != "2030-01-01T00:00:00Z" ||
		strings.Join(r.Methods, ",") != "GET,POST" || !r.StripPrefix || !r.Deprecated {
		t.Errorf("route 0 = %+v", r)
	}
	if u := c.Gateway.Routes[1].Upstream; !strings.Contains(u, "dns+http://orders.default.svc.cluster.local:7000") {
		t.Errorf("route 1 upstream = %q, want its dns+http:// replica kept", u)
	}
	if c.Gateway.Routes[1].Retries != nil {
		t.Error("unset retries should stay nil (the pool's default)")
	}

	// bam config print round-trips: its output loads to the same routes.
	var out bytes.Buffer
	if err := config.Print(&out, c); err != nil {
		t.Fatal(err)
	}
	again, err := loadYAML(t, out.String())
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out.String())
	}
	var out2 bytes.Buffer
	_ = config.Print(&out2, again)
	if out.String() != out2.String() {
		t.Errorf("print is not stable:\n%s\n---\n%s", out.String(), out2.String())
	}
}

func TestGatewayValidation(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"gateway:\n  routes:\n    - {path: v1/x, upstream: http://a:1}", `gateway.routes[0] (v1/x).path = "v1/x": expected a path prefix starting with /`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: ftp://a}", `gateway.routes[0] (/x/).upstream = "ftp://a": expected replica URLs`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: 'http://a:1/base'}", `gateway.routes[0] (/x/).upstream`},
		{"gateway:\n  routes:\n    - {path: /x/}", `gateway.routes[0] (/x/).upstream = "": expected comma-separated replica URLs`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: 'dns+http://u:p@orders:7000'}", `gateway.routes[0] (/x/).upstream = "dns+http://u:p@orders:7000"`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: 'dns+http://:7000'}", `gateway.routes[0] (/x/).upstream = "dns+http://:7000"`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, auth: maybe}", `.auth = "maybe": expected none, optional or required`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, roles: [admin]}", `.auth = "": expected required when roles`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, methods: [get]}", `.methods = "get": expected HTTP methods in upper case`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, host: 'http://h'}", `.host = "http://h"`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, sunset: tomorrow}", `.sunset = "tomorrow": expected an RFC 3339 time`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, rate_limit: {per: planet, rps: 1}}", `gateway.routes[0] (/x/).rate_limit.per = "planet"`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, retries: -1}", `.retries = "-1": expected a whole number from 0`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, health: {path: readyz}}", `gateway.routes[0] (/x/).health.path = "readyz": expected a path on every replica`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, health: {path: '//h/readyz'}}", `.health.path = "//h/readyz"`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, health: {path: /readyz, interval: -1s}}", `.health.interval = "-1s": expected zero (5s) or a positive duration`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, health: {interval: 2s}}", `.health.interval = "2s": expected set only with health.path`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1}\n    - {path: /x/, upstream: http://b:1}", `gateway.routes[1] (/x/).path = "/x/": expected a path, host and methods not already used by gateway.routes[0]`},
		{"gateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, colour: red}", `colour`},
		{"services: [gateway]\ngateway:\n  routes:\n    - {path: /x/, upstream: http://a:1, auth: required}", `expected none unless the auth service runs in this process or auth.url is set`},
		{"gateway:\n  trusted_proxies: [10.0.0.0/33]", `gateway.trusted_proxies = "10.0.0.0/33"`},
		{"gateway:\n  cors_origins: ['*']\n  cors_credentials: true", `gateway.cors_credentials`},
		{"gateway:\n  cors_origins: [app.example.com]", `gateway.cors_origins = "app.example.com"`},
		{"gateway:\n  rate_limit: {rps: -1}", `gateway.rate_limit.rps = "-1"`},
	} {
		_, err := loadYAML(t, tt.yaml)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s\n  error %v\n  want %q", tt.yaml, err, tt.want)
		}
	}
}
