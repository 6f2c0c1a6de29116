package authn_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/testenv"
)

const (
	testIssuer   = "https://bam.test/v1/auth"
	testAudience = "bam"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Unix(1_800_000_000, 0)) }

// signingKey is a private key with its kid and JWS algorithm.
type signingKey struct {
	jwk jose.JSONWebKey // private
	alg jose.SignatureAlgorithm
}

func (k signingKey) public() jose.JSONWebKey { return k.jwk.Public() }

func newEd25519(t testing.TB, kid string) signingKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}, jose.EdDSA}
}

func newP256(t testing.TB, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}, jose.ES256}
}

// sign issues a token the way the auth service does: typ at+jwt, kid set.
func sign(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	return signWith(t, k, claims, (&jose.SignerOptions{}).WithType("at+jwt"), true)
}

func signWith(t testing.TB, k signingKey, claims map[string]any, opts *jose.SignerOptions, withKid bool) string {
	t.Helper()
	key := any(k.jwk)
	if !withKid {
		key = k.jwk.Key
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken assembles a token by hand, for attacks go-jose refuses to make.
func rawToken(t testing.TB, header, claims map[string]any, signFn func(input []byte) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	return input + "." + b64(signFn([]byte(input)))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// es256Sign signs input as JWS ES256 (R||S).
func es256Sign(t testing.TB, priv *ecdsa.PrivateKey, input []byte) []byte {
	t.Helper()
	h := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// userClaims are valid claims for a user token issued at now.
func userClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "usr_1", "aud": []string{testAudience, "other"},
		"exp": now.Add(15 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": "tok_1", "sid": "ses_1", "client_id": "web", "kind": "user",
		"roles": []string{"editor"}, "permissions": []string{"content.posts.*"},
		"scope": "openid profile", "email": "ada@example.com", "email_verified": true,
		"amr": []string{"pwd", "otp"}, "aal": "aal2",
	}
}

// with returns a copy of c with the given claims changed (nil deletes).
func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// jwksServer serves a JWKS that tests can change, fail and count.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	keys         []jose.JSONWebKey
	cacheControl string
	failing      bool
	fetches      atomic.Int64
	delay        time.Duration
}

func newJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	t.Helper()
	s := &jwksServer{cacheControl: "public, max-age=300"}
	for _, k := range keys {
		s.keys = append(s.keys, k.public())
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		failing, delay := s.failing, s.delay
		body, _ := json.Marshal(jose.JSONWebKeySet{Keys: s.keys})
		cc := s.cacheControl
		s.mu.Unlock()
		time.Sleep(delay)
		if failing {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", cc)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(k signingKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k.public())
}

func (s *jwksServer) setFailing(f bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = f
}

func (s *jwksServer) set(cacheControl string, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheControl, s.delay = cacheControl, delay
}

func (s *jwksServer) url() string { return s.URL + "/.well-known/jwks.json" }

// newVerifier returns a verifier reading keys from srv, on clock c.
func newVerifier(t testing.TB, srv *jwksServer, c *testenv.Clock, deny *authn.DenyList) *authn.Verifier {
	t.Helper()
	keys := authn.NewHTTPKeySource(srv.url(), srv.Client(), authn.WithKeySourceClock(c.Now))
	v, err := authn.NewVerifier(authn.Options{
		Issuer: testIssuer, Audience: testAudience, Keys: keys, DenyList: deny, Clock: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantCode fails t unless err is an *errs.Error with kind and code.
func wantCode(t testing.TB, err error, kind errs.Kind, code string) {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != kind || e.Code != code {
		t.Fatalf("error = %v (%T), want %s %s", err, err, kind, code)
	}
}
