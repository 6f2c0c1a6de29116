package gateway_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/transport"
)

const testIssuer = "https://api.test"

// fakeAuth plays the auth service for the edge: it serves a JWKS with one
// Ed25519 key and refuses every API key.
type fakeAuth struct {
	priv ed25519.PrivateKey
	kid  string
	// keyClient is the X-Forwarded-For of the last API-key check: whom
	// the real auth service would count a refused key against.
	keyClient atomic.Value
}

func newFakeAuth(t testing.TB) *fakeAuth {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAuth{priv: priv, kid: "k1"}
}

func (a *fakeAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/jwks.json":
		pub := a.priv.Public().(ed25519.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
			"kid": a.kid, "alg": "EdDSA", "use": "sig"}}})
	case "/v1/auth/keys/verify":
		a.keyClient.Store(r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":401,"code":"auth.token_invalid"}`))
	default:
		http.NotFound(w, r)
	}
}

// token signs an access token for sub with extra claims.
func (a *fakeAuth) token(sub string, extra map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{"iss": testIssuer, "aud": "bam", "sub": sub, "iat": time.Now().Unix(),
		"exp": time.Now().Add(time.Hour).Unix(), "jti": sub + "-jti", "sid": sub + "-sid", "kind": "user"}
	for k, v := range extra {
		claims[k] = v
	}
	input := enc(map[string]string{"alg": "EdDSA", "typ": "at+jwt", "kid": a.kid}) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(a.priv, []byte(input)))
}

func (a *fakeAuth) edge(t testing.TB) *gateway.EdgeAuth {
	e, err := gateway.NewEdgeAuth(gateway.EdgeAuthOptions{Issuer: testIssuer, Audience: "bam",
		Auth: transport.InProcess(a), TokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// loadConfig loads yaml as bam.yaml.
func loadConfig(t testing.TB, yaml string) (config.Config, error) {
	path := filepath.Join(t.TempDir(), "bam.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.Sources{File: path, Environ: []string{}})
}

// front builds a gateway from yaml with the built-in routes of the fake
// auth service, behind a real HTTP listener.
func front(t *testing.T, yaml string) (*httptest.Server, *fakeAuth) {
	t.Helper()
	c, err := loadConfig(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	a := newFakeAuth(t)
	b := &gateway.Builder{
		Builtin:   []gateway.Route{{Prefix: "/v1/auth/", Upstream: "auth"}, {Prefix: "/.well-known/", Upstream: "auth"}},
		Upstreams: map[string]http.RoundTripper{"auth": transport.InProcess(a)},
		Log:       quiet(),
	}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet(), Auth: a.edge(t),
		Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	t.Cleanup(srv.Close)
	return srv, a
}

// echoServer is a user service that reports what it saw, named by tag.
func echoServer(t *testing.T, tag string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"tag": tag, "path": r.URL.Path,
			"auth": r.Header.Get("Authorization"), "xff": r.Header.Get("X-Forwarded-For")})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// do sends a request and decodes a JSON body, if any.
func do(t *testing.T, method, url string, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}
