package password_test

import (
	"context"
	"testing"

	"github.com/bamhq/bam/internal/auth/password"
)

// FuzzVerifyEncoded checks that no stored hash string, however mangled, makes
// Verify panic or accept a password it was not made from.
func FuzzVerifyEncoded(f *testing.F) {
	h := newHasher(f, password.Params{})
	good, err := h.Hash(context.Background(), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good, "", "$", "$$$$$", "$argon2id$v=19$m=19456,t=2,p=1$$",
		"$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, enc string) {
		ok, rehash, err := h.Verify(context.Background(), "not the password", enc)
		if err != nil && (ok || rehash) {
			t.Fatalf("Verify(%q) = %v, %v with error %v", enc, ok, rehash, err)
		}
		if ok && enc == good {
			t.Fatal("wrong password accepted")
		}
	})
}
