package password_test

import (
	"context"
	"testing"

	"github.com/bamhq/bam/internal/auth/password"
)

// BenchmarkHash measures one hash at the default params; hashes/s is the
// ceiling of password sign-ins per second per core.
func BenchmarkHash(b *testing.B) {
	h := newHasher(b, password.Params{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkHashParallel hashes from many goroutines through the Hasher's
// concurrency limit: hashes/s is the process's sign-in ceiling.
func BenchmarkHashParallel(b *testing.B) {
	h := newHasher(b, password.Params{})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}
