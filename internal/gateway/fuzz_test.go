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
