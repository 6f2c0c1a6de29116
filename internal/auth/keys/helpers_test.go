package keys_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/testenv"
)

var testSecret = bytes.Repeat([]byte("s"), keys.SecretSize)

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

func newManager(t testing.TB, db *store.DB, opts keys.Options) *keys.Manager {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = testSecret
	}
	m, err := keys.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// verify checks token against jwks as a resource server would: parse with
// the allowed algs, pick the key by kid, verify the signature and typ. It
// returns the payload.
func verify(t *testing.T, jwks jose.JSONWebKeySet, token, wantTyp string) (kid string, payload []byte) {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{keys.EdDSA, keys.ES256})
	if err != nil {
		t.Fatalf("parse %q: %v", token, err)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != wantTyp {
		t.Errorf("typ header = %q, want %q", typ, wantTyp)
	}
	found := jwks.Key(h.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS, want 1", h.KeyID, len(found))
	}
	k := found[0]
	if k.Use != "sig" || k.Algorithm != h.Algorithm || !k.IsPublic() || !k.Valid() {
		t.Errorf("JWKS entry %s: use=%q alg=%q (token alg %q) public=%v", k.KeyID, k.Use, k.Algorithm, h.Algorithm, k.IsPublic())
	}
	payload, err = jws.Verify(k)
	if err != nil {
		t.Fatalf("verify with kid %s: %v", h.KeyID, err)
	}
	return h.KeyID, payload
}

func kids(set jose.JSONWebKeySet) string {
	var s []string
	for _, k := range set.Keys {
		s = append(s, k.KeyID)
	}
	return strings.Join(s, ",")
}

func countKeys(t *testing.T, db *store.DB, where string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM auth_signing_keys WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
