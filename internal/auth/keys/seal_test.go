package keys_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func TestPrivateKeySealedAtRest(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := ctx(t)
		m := newManager(t, db, keys.Options{})
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		k, _ := m.Signer(c)
		var stored []byte
		if err := db.SQL().QueryRow(`SELECT private_key FROM auth_signing_keys WHERE kid = $1`, k.KID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k.Key)
		seed := k.Key.(ed25519.PrivateKey).Seed()
		if bytes.Contains(stored, der) || bytes.Contains(stored, seed) {
			t.Fatal("the stored private key contains the raw key")
		}
		if _, err := x509.ParsePKCS8PrivateKey(stored); err == nil {
			t.Fatal("the stored private key parses as PKCS #8")
		}

		// Another secret cannot open it, and says so.
		wrong := newManager(t, db, keys.Options{Secret: bytes.Repeat([]byte("w"), keys.SecretSize)})
		if _, err := wrong.Signer(c); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Signer with a wrong secret = %v, want ErrDecrypt", err)
		}
		// A sealed key moved to another row does not open either: the kid
		// is bound in.
		if _, err := m.Rotate(c); err != nil {
			t.Fatal(err)
		}
		fresh := newManager(t, db, keys.Options{})
		if _, err := db.SQL().Exec(`UPDATE auth_signing_keys SET private_key = $1 WHERE retired_at IS NULL`, stored); err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.Signer(c); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Signer with a key sealed for another kid = %v, want ErrDecrypt", err)
		}
	}, keys.Migrations)
}

func TestES256KeyType(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := ctx(t)
		m := newManager(t, db, keys.Options{Alg: keys.ES256})
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		// A fresh Manager loads the key from the database.
		k, err := newManager(t, db, keys.Options{}).Signer(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := k.Key.(*ecdsa.PrivateKey); !ok || k.Alg != keys.ES256 {
			t.Fatalf("loaded key %v is a %T", k, k.Key)
		}
	}, keys.Migrations)
}
