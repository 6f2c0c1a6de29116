package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

func TestVerifyValidToken(t *testing.T) {
	c := newClock()
	ed, ec := newEd25519(t, "ed-1"), newP256(t, "ec-1")
	srv := newJWKSServer(t, ed, ec)
	v := newVerifier(t, srv, c, nil)
	ctx := context.Background()

	for _, k := range []signingKey{ed, ec} {
		t.Run(string(k.alg), func(t *testing.T) {
			p, err := v.Verify(ctx, sign(t, k, userClaims(c.Now())))
			if err != nil {
				t.Fatal(err)
			}
			want := authn.Principal{
				Kind: authn.KindUser, Subject: "usr_1", SessionID: "ses_1", ClientID: "web",
				Roles: []string{"editor"}, Permissions: []string{"content.posts.*"},
				Scopes: []string{"openid", "profile"}, Email: "ada@example.com", EmailVerified: true,
				AAL: "aal2", AMR: []string{"pwd", "otp"}, TokenID: "tok_1",
				IssuedAt: c.Now(), ExpiresAt: c.Now().Add(15 * time.Minute),
			}
			if !equalPrincipal(*p, want) {
				t.Errorf("principal = %+v\nwant        %+v", *p, want)
			}
			if !p.HasPermission("content.posts.write") || p.HasPermission("content.comments.write") {
				t.Error("permissions not applied")
			}
		})
	}
}

func equalPrincipal(a, b authn.Principal) bool {
	return a.Kind == b.Kind && a.Subject == b.Subject && a.SessionID == b.SessionID &&
		a.ClientID == b.ClientID && slices.Equal(a.Roles, b.Roles) &&
		slices.Equal(a.Permissions, b.Permissions) && slices.Equal(a.Scopes, b.Scopes) &&
		a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.AAL == b.AAL &&
		slices.Equal(a.AMR, b.AMR) && a.TokenID == b.TokenID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestVerifyServiceAccountAndStringAudience(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	v := newVerifier(t, newJWKSServer(t, ed), c, nil)
	claims := with(userClaims(c.Now()), "kind", "service", "sid", nil, "aud", testAudience, "sub", "svc_1")
	p, err := v.Verify(context.Background(), sign(t, ed, claims))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != authn.KindService || p.Subject != "svc_1" || p.SessionID != "" {
		t.Errorf("principal = %+v", p)
	}
}

func TestVerifyCachesUntilExpiry(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	srv := newJWKSServer(t, ed)
	v := newVerifier(t, srv, c, nil)
	ctx := context.Background()
	tok := sign(t, ed, with(userClaims(c.Now()), "exp", c.Now().Add(time.Minute).Unix()))

	p1, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	srv.setFailing(true) // keys are not needed again: the principal is cached
	p2, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("second verify did not come from the cache")
	}
	c.Advance(time.Minute + 31*time.Second) // past exp and the 30s leeway
	_, err = v.Verify(ctx, tok)
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenExpired)
}

// TestVerifyRejects is the attack table: every token here must fail with
// the given code, and never verify.
func TestVerifyRejects(t *testing.T) {
	c := newClock()
	ed, ec := newEd25519(t, "ed-1"), newP256(t, "ec-1")
	srv := newJWKSServer(t, ed, ec)
	now := c.Now()
	good := userClaims(now)
	edPub := ed.public().Key.(ed25519.PublicKey)
	ecPriv := ec.jwk.Key.(*ecdsa.PrivateKey)
	valid := sign(t, ed, good)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"empty", "", authn.CodeTokenMissing},
		{"garbage", "not-a-token", authn.CodeTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], authn.CodeTokenMalformed},
		{"four parts", valid + ".x", authn.CodeTokenMalformed},
		{"header not base64", "%%%." + parts[1] + "." + parts[2], authn.CodeTokenMalformed},
		{"too long", valid + strings.Repeat("A", authn.MaxTokenBytes), authn.CodeTokenMalformed},
		{"expired", sign(t, ed, with(good, "exp", now.Add(-time.Minute).Unix())), authn.CodeTokenExpired},
		{"not yet valid", sign(t, ed, with(good, "nbf", now.Add(time.Minute).Unix())), authn.CodeTokenInvalid},
		{"issued in the future", sign(t, ed, with(good, "iat", now.Add(time.Hour).Unix())), authn.CodeTokenInvalid},
		{"wrong iss", sign(t, ed, with(good, "iss", "https://evil.test")), authn.CodeTokenInvalid},
		{"wrong aud", sign(t, ed, with(good, "aud", "someone-else")), authn.CodeTokenInvalid},
		{"no aud", sign(t, ed, with(good, "aud", nil)), authn.CodeTokenInvalid},
		{"no exp", sign(t, ed, with(good, "exp", nil)), authn.CodeTokenInvalid},
		{"no sub", sign(t, ed, with(good, "sub", nil)), authn.CodeTokenInvalid},
		{"bad kind", sign(t, ed, with(good, "kind", "admin")), authn.CodeTokenInvalid},
		{"user without sid", sign(t, ed, with(good, "sid", nil)), authn.CodeTokenInvalid},
		{"alg none", rawToken(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "ed-1"}, good,
			func([]byte) []byte { return nil }), authn.CodeTokenInvalid},
		{"HS256 with the public key as secret", rawToken(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "ed-1"}, good,
			func(in []byte) []byte { m := hmac.New(sha256.New, edPub); m.Write(in); return m.Sum(nil) }), authn.CodeTokenInvalid},
		{"HS256 with the JWK as secret", hs256WithJWK(t, ed, good), authn.CodeTokenInvalid},
		{"ES256 header on the Ed25519 key", rawToken(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ed-1"}, good,
			func(in []byte) []byte { return es256Sign(t, ecPriv, in) }), authn.CodeTokenInvalid},
		{"EdDSA header on the P-256 key", rawToken(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "ec-1"}, good,
			func(in []byte) []byte { return ed25519.Sign(ed.jwk.Key.(ed25519.PrivateKey), in) }), authn.CodeTokenInvalid},
		{"tampered payload", parts[0] + "." + b64([]byte(`{"sub":"usr_admin"}`)) + "." + parts[2], authn.CodeTokenInvalid},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), authn.CodeTokenInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", authn.CodeTokenInvalid},
		{"signed by an unknown key", sign(t, newEd25519(t, "ed-1"), good), authn.CodeTokenInvalid},
		{"missing kid", signWith(t, ed, good, (&jose.SignerOptions{}).WithType("at+jwt"), false), authn.CodeTokenInvalid},
		{"typ JWT", signWith(t, ed, good, (&jose.SignerOptions{}).WithType("JWT"), true), authn.CodeTokenInvalid},
		{"no typ", signWith(t, ed, good, &jose.SignerOptions{}, true), authn.CodeTokenInvalid},
		{"crit header", signWith(t, ed, good, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("crit", []string{"exp"}).WithHeader("exp", 1), true), authn.CodeTokenInvalid},
		{"unknown kid", sign(t, newEd25519(t, "nobody"), good), authn.CodeTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, srv, c, nil)
			p, err := v.Verify(context.Background(), tt.token)
			if p != nil {
				t.Fatalf("verified: %+v", p)
			}
			wantCode(t, err, errs.Unauthenticated, tt.code)
			if strings.Contains(errs.As(err).Message, "kid") || strings.Contains(errs.As(err).Message, "aud") {
				t.Errorf("message tells which check failed: %q", errs.As(err).Message)
			}
		})
	}
}

// hs256WithJWK signs with HMAC keyed by the public JWK's JSON, the other
// classic key-confusion secret.
func hs256WithJWK(t testing.TB, k signingKey, claims map[string]any) string {
	secret, err := k.public().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return rawToken(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": k.jwk.KeyID}, claims,
		func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) })
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}

func TestVerifyLeeway(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	v := newVerifier(t, newJWKSServer(t, ed), c, nil)
	now := c.Now()
	// Within the default 30s leeway both ways.
	for _, claims := range []map[string]any{
		with(userClaims(now), "exp", now.Add(-20*time.Second).Unix()),
		with(userClaims(now), "nbf", now.Add(20*time.Second).Unix(), "iat", now.Add(20*time.Second).Unix()),
	} {
		if _, err := v.Verify(context.Background(), sign(t, ed, claims)); err != nil {
			t.Errorf("within leeway: %v", err)
		}
	}
}

func TestVerifierOptions(t *testing.T) {
	keys, err := authn.StaticKeys(jose.JSONWebKeySet{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []authn.Options{
		{Audience: "a", Keys: keys},
		{Issuer: "i", Keys: keys},
		{Issuer: "i", Audience: "a"},
	} {
		if _, err := authn.NewVerifier(o); err == nil {
			t.Errorf("NewVerifier(%+v) accepted", o)
		}
	}
}

func TestStaticKeys(t *testing.T) {
	c := newClock()
	ed, ec := newEd25519(t, "ed-1"), newP256(t, "ec-1")
	// Private keys are accepted and reduced to their public half.
	keys, err := authn.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ed.jwk, ec.public()}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := authn.NewVerifier(authn.Options{Issuer: testIssuer, Audience: testAudience, Keys: keys, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []signingKey{ed, ec} {
		if _, err := v.Verify(context.Background(), sign(t, k, userClaims(c.Now()))); err != nil {
			t.Errorf("%s: %v", k.alg, err)
		}
	}
	if _, err := authn.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("secret"), KeyID: "hs"}}}); err == nil {
		t.Error("StaticKeys accepted a symmetric key")
	}
}

func TestVerifyClaimsEncoding(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	v := newVerifier(t, newJWKSServer(t, ed), c, nil)
	now := c.Now().Unix()
	payload := `{"iss":"` + testIssuer + `","sub":"usr_\u00e9\"1","aud":"bam","exp":` + fmt.Sprint(now+60) +
		`.5,"iat":` + fmt.Sprint(now) + `,"kind":"service","roles":[],"permissions":["a\/b"],` +
		`"future":{"nested":[1,-0.5e-3,{"z":null}],"t":true},"email":null}`
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: ed.jwk}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != `usr_é"1` || !slices.Equal(p.Permissions, []string{"a/b"}) || p.Email != "" ||
		!p.ExpiresAt.Equal(time.Unix(now+60, 5e8)) {
		t.Errorf("principal = %+v", p)
	}
	for _, bad := range []string{`{"exp":01}`, `{"exp":+1}`, `{"exp":1.}`, `{"sub":"a"} x`, `{"sub":"a",}`, `{"sub":"\x01"}`, `[]`} {
		obj, _ := signer.Sign([]byte(bad))
		tok, _ := obj.CompactSerialize()
		_, err := v.Verify(context.Background(), tok)
		wantCode(t, err, errs.Unauthenticated, authn.CodeTokenMalformed)
	}
}
