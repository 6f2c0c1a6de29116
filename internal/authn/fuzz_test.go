package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

// FuzzVerify: no input panics, every failure is an Unauthenticated
// *errs.Error, and nothing verifies except the exact tokens the issuer
// signed.
func FuzzVerify(f *testing.F) {
	c := newClock()
	ed, ec := newEd25519(f, "ed-1"), newP256(f, "ec-1")
	keys, err := authn.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ed.public(), ec.public()}})
	if err != nil {
		f.Fatal(err)
	}
	v, err := authn.NewVerifier(authn.Options{Issuer: testIssuer, Audience: testAudience, Keys: keys, Clock: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	good := userClaims(c.Now())
	issued := []string{sign(f, ed, good), sign(f, ec, good),
		sign(f, ed, with(good, "kind", "service", "sid", nil, "aud", testAudience))}
	edPub := ed.public().Key.(ed25519.PublicKey)
	attacks := []string{
		"", ".", "..", "...", "a.b.c", "eyJ9.eyJ9.", strings.Repeat(".", 100),
		rawToken(f, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "ed-1"}, good, func([]byte) []byte { return nil }),
		rawToken(f, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "ed-1"}, good,
			func(in []byte) []byte { m := hmac.New(sha256.New, edPub); m.Write(in); return m.Sum(nil) }),
		rawToken(f, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ed-1"}, good,
			func(in []byte) []byte { return es256Sign(f, ec.jwk.Key.(*ecdsa.PrivateKey), in) }),
		sign(f, ed, with(good, "exp", c.Now().Add(-time.Hour).Unix())),
		sign(f, ed, with(good, "iss", "https://evil.test")),
		sign(f, ed, with(good, "aud", "else")),
		signWith(f, ed, good, &jose.SignerOptions{}, false),
	}
	for _, s := range append(slices.Clone(issued), attacks...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err == nil {
			if p == nil || !slices.Contains(issued, token) {
				t.Fatalf("verified a token the issuer never signed: %q", token)
			}
			return
		}
		if p != nil {
			t.Fatal("principal returned with an error")
		}
		if e := errs.As(err); e == nil || e.Kind != errs.Unauthenticated {
			t.Fatalf("error %v is not an Unauthenticated *errs.Error", err)
		}
	})
}

// FuzzClaims signs arbitrary payloads with the real key, so that the claims
// reader (which only ever sees signed payloads) is fuzzed too: it never
// panics, and never accepts what is not JSON.
func FuzzClaims(f *testing.F) {
	c := newClock()
	ed := newEd25519(f, "ed-1")
	keys, err := authn.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ed.public()}})
	if err != nil {
		f.Fatal(err)
	}
	v, err := authn.NewVerifier(authn.Options{Issuer: testIssuer, Audience: testAudience, Keys: keys, Clock: c.Now, CacheSize: -1})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(userClaims(c.Now()))
	f.Add(good)
	f.Add([]byte(`{"iss":"` + testIssuer + `","sub":"a\u00e9\"","aud":"bam","exp":1.8e9,"iat":1800000000,"kind":"service","x":{"y":[1,-0.5e-3,{"z":null}],"t":true}}`))
	f.Add([]byte(`{"exp":01}`))
	f.Add([]byte(`[]`))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: ed.jwk}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		obj, err := signer.Sign(payload)
		if err != nil {
			t.Skip()
		}
		tok, _ := obj.CompactSerialize()
		p, err := v.Verify(context.Background(), tok)
		if err == nil {
			if p == nil || !json.Valid(payload) {
				t.Fatalf("accepted claims that are not JSON: %q", payload)
			}
			return
		}
		if e := errs.As(err); e == nil || e.Kind != errs.Unauthenticated {
			t.Fatalf("error %v is not an Unauthenticated *errs.Error", err)
		}
	})
}
