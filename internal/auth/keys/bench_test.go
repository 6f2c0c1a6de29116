package keys_test

import (
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/store/storetest"
)

// BenchmarkSign measures Manager.Sign with a typical access token's claims:
// the cached key path, as on every token issued (the database is asked at
// most every RefreshInterval, rarely within a run).
func BenchmarkSign(b *testing.B) {
	for _, alg := range []jose.SignatureAlgorithm{keys.EdDSA, keys.ES256} {
		b.Run(string(alg), func(b *testing.B) {
			db := storetest.Open(b, "sqlite", keys.Migrations)
			m := newManager(b, db, keys.Options{Alg: alg})
			c := ctx(b)
			if err := m.Ensure(c); err != nil {
				b.Fatal(err)
			}
			claims := map[string]any{
				"iss": "https://bam.example/v1/auth", "sub": "0194a8d2-7c1e-7b3a-9f00-6a1c2e3d4f5a",
				"aud": "bam", "iat": time.Now().Unix(), "exp": time.Now().Add(15 * time.Minute).Unix(),
				"jti": "0194a8d2-7c1e-7b3a-9f00-6a1c2e3d4f5b", "scope": "openid profile", "role": "authenticated",
			}
			for b.Loop() {
				if _, err := m.Sign(c, claims); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
