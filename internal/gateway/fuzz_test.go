package gateway_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/gateway"
)

// FuzzRoutes: any bam.yaml either fails to load with an error, or loads
// into routes that build a gateway (with an edge verifier, so every auth
// policy is buildable). Neither panics.
func FuzzRoutes(f *testing.F) {
	for _, s := range []string{
		"gateway:\n  routes:\n    - {path: /v1/orders/, upstream: 'http://127.0.0.1:7000,http://127.0.0.1:7001', auth: required, roles: [customer], rate_limit: {per: user, rps: 20, burst: 40}, timeout: 5s, retries: 2, strip_prefix: true}\n",
		"gateway:\n  routes:\n    - {path: /v1/, host: api.example.com, methods: [GET], upstream: http://a:1, deprecated: true, sunset: 2030-01-01T00:00:00Z}\n    - {path: /v2/, upstream: http://b:1}\n",
		"gateway:\n  routes:\n    - {path: /v1/auth/x/, upstream: http://a:1, override: true}\n",
		"gateway:\n  routes: [{path: /, upstream: http://a:1, rate_limit: {rps: 1e300}}]\n",
		"gateway:\n  routes: 7\n",
		"gateway:\n  routes:\n    - path: [1, 2]\n",
		"gateway:\n  routes:\n    - {path: /x, upstream: http://a:1, retries: 99999999999999999999}\n",
		"gateway:\n  trusted_proxies: [10.0.0.0/8, ::1]\n  cors_origins: ['*']\n",
		"gateway: {routes: [{path: /x/, upstream: http://[::1]:80, timeout: -1s}]}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1}\n    - {path: /a/, upstream: http://b:1}\n", // duplicate
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, methods: [GET]}\n    - {path: /a/, upstream: http://b:1, methods: [POST]}\n",
		"gateway:\n  routes:\n    - {path: a/, upstream: http://a:1}\n",                 // no leading slash
		"gateway:\n  routes:\n    - {path: /a/, upstream: ''}\n",                        // no upstream
		"gateway:\n  routes:\n    - {path: /a/, upstream: 'ftp://a:1'}\n",               // a scheme not proxied
		"gateway:\n  routes:\n    - {path: /a/, upstream: 'http://a:1,,http://b:2/'}\n", // list with gaps
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, auth: sometimes}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, roles: [admin], auth: none}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, rate_limit: {per: planet, rps: 1}}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, rate_limit: {per: key, rps: 0.001, burst: 1}}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, sunset: tomorrow}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, max_body: 1.5GiB}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, max_body: -1}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, host: 'api.example.com:8443', methods: [get, PATCH]}\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://a:1, unknown_key: 1}\n",
		"gateway:\n  trusted_proxies: [not-a-cidr]\n",
		"gateway:\n  trusted_proxies: ['fe80::1%eth0', 10.0.0.1/33]\n",
		"gateway:\n  cors_origins: ['https://app.example.com', 'http://*.example.com']\n  cors_credentials: true\n  cors_max_age: 10m\n",
		"gateway:\n  rate_limit: {per: user, rps: 5}\n  compress: false\n  max_body: 0\n",
		"gateway:\n  routes:\n    - &r {path: /a/, upstream: http://a:1}\n    - *r\n", // YAML alias: a duplicate
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	a := newFakeAuth(f)
	edge := a.edge(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "bam.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(config.Sources{File: path, Environ: []string{}})
		if err != nil {
			return
		}
		b := &gateway.Builder{Builtin: []gateway.Route{{Prefix: "/v1/auth/", Upstream: "auth"}}, Log: quiet()}
		defer b.Close()
		if _, err := b.New(c, gateway.Options{Log: quiet(), Auth: edge}); err != nil {
			t.Errorf("valid config does not build: %v\n%s", err, data)
		}
	})
}
