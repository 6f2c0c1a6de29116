package authn_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/testenv"
	"github.com/bamhq/bam/internal/transport"
)

func newKeySource(srv *jwksServer, c *testenv.Clock) *authn.HTTPKeySource {
	return authn.NewHTTPKeySource(srv.url(), srv.Client(), authn.WithKeySourceClock(c.Now))
}

// waitFetches waits for the server to have been asked n times in all.
func waitFetches(t *testing.T, srv *jwksServer, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for srv.fetches.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("fetches = %d, want %d", srv.fetches.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKeySourceRespectsMaxAge(t *testing.T) {
	tests := []struct {
		cacheControl string
		fresh        time.Duration // no refetch before this
	}{
		{"public, max-age=120", 120 * time.Second},
		{"max-age=5", time.Minute},    // bounded below
		{"max-age=86400", time.Hour},  // bounded above
		{"no-store", time.Minute},     // as short as allowed
		{"", authn.DefaultKeysMaxAge}, // no directive
	}
	for _, tt := range tests {
		t.Run(tt.cacheControl, func(t *testing.T) {
			c := newClock()
			srv := newJWKSServer(t, newEd25519(t, "ed-1"))
			srv.set(tt.cacheControl, 0)
			ks := newKeySource(srv, c)
			ctx := context.Background()
			if _, err := ks.Key(ctx, "ed-1"); err != nil {
				t.Fatal(err)
			}
			c.Advance(tt.fresh - time.Second)
			if _, err := ks.Key(ctx, "ed-1"); err != nil {
				t.Fatal(err)
			}
			if n := srv.fetches.Load(); n != 1 {
				t.Fatalf("refetched while fresh: %d fetches", n)
			}
			c.Advance(2 * time.Second)
			if _, err := ks.Key(ctx, "ed-1"); err != nil { // served at once, refreshed behind
				t.Fatal(err)
			}
			waitFetches(t, srv, 2)
		})
	}
}

func TestKeySourceKeepsKeysWhenRefreshFails(t *testing.T) {
	c := newClock()
	srv := newJWKSServer(t, newEd25519(t, "ed-1"))
	ks := newKeySource(srv, c)
	ctx := context.Background()
	if _, err := ks.Key(ctx, "ed-1"); err != nil {
		t.Fatal(err)
	}
	srv.setFailing(true)
	c.Advance(2 * time.Hour) // stale
	if _, err := ks.Key(ctx, "ed-1"); err != nil {
		t.Fatalf("stale key not served: %v", err)
	}
	waitFetches(t, srv, 2)
	c.Advance(time.Minute)
	if _, err := ks.Key(ctx, "other"); !errors.Is(err, authn.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
	if _, err := ks.Key(ctx, "ed-1"); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
}

func TestKeySourceUnknownKidRefreshIsRateLimited(t *testing.T) {
	c := newClock()
	srv := newJWKSServer(t, newEd25519(t, "ed-1"))
	ks := newKeySource(srv, c)
	ctx := context.Background()
	if _, err := ks.Key(ctx, "ed-1"); err != nil {
		t.Fatal(err)
	}
	c.Advance(authn.DefaultMinRefreshInterval)
	for range 10 {
		if _, err := ks.Key(ctx, "nobody"); !errors.Is(err, authn.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one refresh for ten unknown kids)", n)
	}
	c.Advance(authn.DefaultMinRefreshInterval)
	_, _ = ks.Key(ctx, "nobody")
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3 once the interval passed", n)
	}
}

func TestKeySourceConcurrentUnknownKidsShareOneFetch(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	srv := newJWKSServer(t, ed)
	ks := newKeySource(srv, c)
	v, err := authn.NewVerifier(authn.Options{Issuer: testIssuer, Audience: testAudience, Keys: ks, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, ed, userClaims(c.Now()))); err != nil {
		t.Fatal(err)
	}
	srv.set("max-age=300", 50*time.Millisecond)
	rotated := newEd25519(t, "ed-2")
	srv.add(rotated)
	c.Advance(authn.DefaultMinRefreshInterval)
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = sign(t, rotated, with(userClaims(c.Now()), "jti", fmt.Sprint(i)))
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(tokens))
	for _, tok := range tokens {
		wg.Go(func() {
			_, err := v.Verify(ctx, tok)
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("rotated key: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (initial + one shared refresh)", n)
	}
}

func TestVerifyAcceptsRotatedKey(t *testing.T) {
	c := newClock()
	old, next := newEd25519(t, "k-1"), newP256(t, "k-2")
	srv := newJWKSServer(t, old)
	v := newVerifier(t, srv, c, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, old, userClaims(c.Now()))); err != nil {
		t.Fatal(err)
	}
	srv.add(next)
	c.Advance(10 * time.Second)
	if _, err := v.Verify(ctx, sign(t, next, userClaims(c.Now()))); err != nil {
		t.Fatalf("new kid: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, old, with(userClaims(c.Now()), "jti", "2"))); err != nil {
		t.Fatalf("old kid after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

func TestVerifyWithoutAnyKeysIsUnavailable(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	srv := newJWKSServer(t, ed)
	srv.setFailing(true)
	v := newVerifier(t, srv, c, nil)
	_, err := v.Verify(context.Background(), sign(t, ed, userClaims(c.Now())))
	wantCode(t, err, errs.Unavailable, authn.CodeKeysUnavailable)
}

func TestKeySourceInProcess(t *testing.T) {
	ed := newEd25519(t, "ed-1")
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ed.public()}})
	auth := http.NewServeMux()
	auth.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	})
	client := transport.Client(transport.InProcess(auth))
	ks := authn.NewHTTPKeySource(authn.JWKSURL("http://auth"), client)
	k, err := ks.Key(context.Background(), "ed-1")
	if err != nil || k.Algorithm != authn.AlgEdDSA {
		t.Fatalf("Key = %+v, %v", k, err)
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	ed, ec := newEd25519(t, "ed-1"), newP256(t, "ec-1")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	encKey := ec.public()
	encKey.KeyID, encKey.Use = "enc", "enc"
	lying := ed.public()
	lying.KeyID, lying.Algorithm = "lying", "ES256"
	noKid := ed.public()
	noKid.KeyID = ""
	bad := []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "rsa", Algorithm: "RS256"}, encKey, lying, noKid,
	}
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: append(bad, ed.public())})
	keys, err := authn.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["ed-1"].Algorithm != authn.AlgEdDSA {
		t.Fatalf("keys = %+v", keys)
	}
	body, _ = json.Marshal(jose.JSONWebKeySet{Keys: bad})
	if _, err := authn.ParseJWKS(body); err == nil {
		t.Error("a set without usable keys was accepted")
	}
	private, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ed.jwk}})
	if _, err := authn.ParseJWKS(private); err == nil {
		t.Error("a set publishing a private key was accepted")
	}
}
