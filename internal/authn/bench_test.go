package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/testenv"
)

// BenchmarkVerify measures Verify cached and uncached, and, as the
// baseline uncached Verify is held to (within 1.2×), the bare signature
// check of the same tokens.
func BenchmarkVerify(b *testing.B) {
	c := testenv.NewClock(time.Now()) // for the key source only
	ed, ec := newEd25519(b, "ed-1"), newP256(b, "ec-1")
	srv := newJWKSServer(b, ed, ec)
	// The real clock, as in production: the test clock's lock would be
	// measured too. Tokens are valid for 15 minutes.
	deny := authn.NewDenyList(authn.DenyListOptions{})
	deny.RevokeSession("some-other-session", time.Now()) // a non-empty list, as in production
	edTok, ecTok := sign(b, ed, userClaims(time.Now())), sign(b, ec, userClaims(time.Now()))
	ctx := context.Background()

	verifier := func(b *testing.B, cacheSize int) *authn.Verifier {
		keys := authn.NewHTTPKeySource(srv.url(), srv.Client(), authn.WithKeySourceClock(c.Now))
		v, err := authn.NewVerifier(authn.Options{Issuer: testIssuer, Audience: testAudience,
			Keys: keys, DenyList: deny, CacheSize: cacheSize})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(ctx, edTok); err != nil { // fetches the keys
			b.Fatal(err)
		}
		return v
	}
	run := func(v *authn.Verifier, tok string) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		}
	}

	b.Run("cached", run(verifier(b, 0), edTok))
	b.Run("cached-parallel", func(b *testing.B) {
		v := verifier(b, 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, edTok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("uncached-ed25519", run(verifier(b, -1), edTok))
	b.Run("uncached-es256", run(verifier(b, -1), ecTok))

	rawEd := rawEd25519(b, ed, edTok)
	rawEC := rawES256(b, ec, ecTok)
	b.Run("raw-ed25519-verify", func(b *testing.B) {
		for b.Loop() {
			rawEd()
		}
	})
	b.Run("raw-es256-verify", func(b *testing.B) {
		for b.Loop() {
			rawEC()
		}
	})

	// The ratios, measured by alternating both operations in one loop, so
	// that load from other processes hits both alike.
	ratio := func(v *authn.Verifier, tok string, raw func()) func(b *testing.B) {
		return func(b *testing.B) {
			var full, bare time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				raw()
				full, bare = full+t1.Sub(t0), bare+time.Since(t1)
			}
			b.ReportMetric(float64(full)/float64(bare), "x-raw")
		}
	}
	b.Run("ratio-ed25519", ratio(verifier(b, -1), edTok, rawEd))
	b.Run("ratio-es256", ratio(verifier(b, -1), ecTok, rawEC))
}

// rawEd25519 returns the bare signature check of tok.
func rawEd25519(b *testing.B, k signingKey, tok string) func() {
	pub := k.public().Key.(ed25519.PublicKey)
	input, sig := splitSigned(b, tok)
	return func() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("bad signature")
		}
	}
}

// rawES256 returns the bare JWS ES256 check of tok: SHA-256, then ECDSA.
func rawES256(b *testing.B, k signingKey, tok string) func() {
	pub := k.public().Key.(*ecdsa.PublicKey)
	input, sig := splitSigned(b, tok)
	return func() {
		h := sha256.Sum256(input)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

func splitSigned(b *testing.B, tok string) (input, sig []byte) {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	return []byte(tok[:i]), sig
}
