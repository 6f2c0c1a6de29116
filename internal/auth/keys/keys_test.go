package keys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func TestEnsureConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := ctx(t)
		if _, err := newManager(t, db, keys.Options{}).Signer(c); !errors.Is(err, keys.ErrNoActiveKey) {
			t.Fatalf("Signer before Ensure = %v, want ErrNoActiveKey", err)
		}
		// Several replicas starting at once.
		var wg sync.WaitGroup
		for range 8 {
			m := newManager(t, db, keys.Options{})
			wg.Go(func() {
				if err := m.Ensure(c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := countKeys(t, db, "1=1"); n != 1 {
			t.Fatalf("%d keys after concurrent Ensure, want 1", n)
		}
		// The database itself refuses a second active key.
		_, err := db.SQL().ExecContext(c, `INSERT INTO auth_signing_keys (kid, alg, private_key, public_jwk, created_at, activated_at)
			SELECT 'other', alg, private_key, public_jwk, created_at, activated_at FROM auth_signing_keys`)
		if !store.IsUniqueViolation(err) {
			t.Fatalf("inserting a second active key = %v, want a unique violation", err)
		}
		m := newManager(t, db, keys.Options{})
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		if n := countKeys(t, db, "1=1"); n != 1 {
			t.Fatalf("%d keys after a second Ensure, want 1", n)
		}
	}, keys.Migrations)
}

func TestSignVerify(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		for _, alg := range []jose.SignatureAlgorithm{keys.EdDSA, keys.ES256} {
			t.Run(string(alg), func(t *testing.T) {
				c := ctx(t)
				// One table per database: retire the other alg's key.
				m := newManager(t, db, keys.Options{Alg: alg})
				if _, err := m.Rotate(c); err != nil {
					t.Fatal(err)
				}
				claims := map[string]any{"sub": "user-1", "exp": 1900000000}
				tok, err := m.Sign(c, claims)
				if err != nil {
					t.Fatal(err)
				}
				jwks, err := m.JWKS(c)
				if err != nil {
					t.Fatal(err)
				}
				kid, payload := verify(t, jwks, tok, keys.TypeAccessToken)
				var got map[string]any
				if err := json.Unmarshal(payload, &got); err != nil || got["sub"] != "user-1" {
					t.Errorf("payload %s (%v)", payload, err)
				}
				active, _ := m.Signer(c)
				if kid != active.KID || active.Alg != alg {
					t.Errorf("signed by %s, active key %v, want alg %s", kid, active, alg)
				}
				idTok, err := m.SignIDToken(c, claims)
				if err != nil {
					t.Fatal(err)
				}
				verify(t, jwks, idTok, keys.TypeJWT)

				// The JWKS serialises as a standard document.
				raw, _ := json.Marshal(jwks)
				if strings.Contains(string(raw), `"d"`) {
					t.Errorf("JWKS has private key material: %s", raw)
				}
			})
		}
	}, keys.Migrations)
}

func TestSigningKeyHidesPrivateKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		m := newManager(t, db, keys.Options{})
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		k, err := m.Signer(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{k, *k} {
			for format, want := range map[string]string{"%v": k.String(), "%+v": k.String(), "%s": k.String(), "%#v": k.GoString()} {
				if s := fmt.Sprintf(format, v); s != want || !strings.Contains(s, k.KID) {
					t.Errorf("%s of a %T = %q, want %q: kid and alg only", format, v, s, want)
				}
			}
		}
		if s := fmt.Sprint(keys.Options{Secret: testSecret}); strings.Contains(s, string(testSecret)) {
			t.Errorf("Options print their secret: %s", s)
		}
	}, keys.Migrations)
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]keys.Options{
		"short secret": {Secret: []byte("too short")},
		"no secret":    {},
		"bad alg":      {Secret: testSecret, Alg: "HS256"},
		"negative ttl": {Secret: testSecret, TokenTTL: -time.Second},
	} {
		if _, err := keys.New(nil, o); err == nil {
			t.Errorf("%s: New accepted %v", name, o)
		}
	}
}
