// Package keys keeps the auth service's JWT signing keys: it creates them,
// seals their private halves in the service's database, signs tokens with the
// active one, rotates them without downtime and publishes the public halves
// as a JWKS.
//
// # Lifecycle of a key
//
// Exactly one key is active at a time; it signs every token. Rotate makes a
// new key active and retires the previous one: a retired key signs nothing,
// but stays in the JWKS until its expires_at,
//
//	retired_at + TokenTTL + RefreshInterval + Leeway,
//
// by which time every token it signed has expired (other replicas may go on
// signing with it for up to RefreshInterval after the rotation, and Leeway
// covers verifiers' clock skew). Prune deletes keys past that point. So a
// rotation never invalidates a token in flight, and verifiers (which refetch
// the JWKS on an unknown kid) pick up the new key on its first token.
//
// # Replicas
//
// Keys live in the database, so every replica of the auth service signs with
// the same key. A partial unique index allows one active key only; replicas
// that race to create (Ensure) or rotate (RotateIfOlder) one lose with a
// unique violation, look again and find the winner's. Each Manager caches the
// active key and asks the database at most every RefreshInterval whether it
// is still the active one, so a rotation made by one replica reaches the
// others within that interval.
//
// # Scheduled rotation
//
// RotateEvery(ctx, interval) is the loop to run for automatic rotation: it
// rotates when the active key is older than interval (not on a timer of its
// own, so N replicas running it rotate once per interval, not N times, and a
// restart does not reset the schedule) and prunes expired keys.
//
// # Private keys at rest
//
// Private keys are stored as PKCS #8, sealed with AES-256-GCM under a key
// derived by HKDF-SHA256 from Options.Secret, with the kid as associated data
// (a sealed key copied to another row does not open). The secret never
// reaches the database; losing it means rotating to new keys, and a wrong one
// fails with ErrDecrypt. Nothing in this package logs or prints key material.
package keys

import (
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates auth_signing_keys; apply it with the auth service's
// other migrations.
var Migrations = store.Embedded("authkeys", migrations, "migrations")

// The signature algorithms a Manager can create keys for.
const (
	EdDSA = jose.EdDSA // Ed25519: small, fast, deterministic; the default
	ES256 = jose.ES256 // ECDSA P-256 with SHA-256: for verifiers without Ed25519
)

// Token types, the JWS "typ" header: RFC 9068 access tokens and plain JWTs
// (OpenID Connect id_tokens).
const (
	TypeAccessToken = "at+jwt"
	TypeJWT         = "JWT"
)

// Defaults of Options.
const (
	DefaultTokenTTL        = 15 * time.Minute
	DefaultRefreshInterval = 5 * time.Second
	DefaultLeeway          = time.Minute
)

// SecretSize is the minimum length of Options.Secret in bytes.
const SecretSize = 32

// ErrNoActiveKey is returned by Signer and Sign when the database holds no
// active key: Ensure was not called.
var ErrNoActiveKey = errors.New("keys: no active signing key (call Ensure at start)")

// ErrDecrypt is returned when a stored private key does not open: the
// Manager's Secret is not the one it was sealed with, or the row was altered.
var ErrDecrypt = errors.New("keys: cannot decrypt the stored private key: wrong secret, or the row was altered")

// Options configure a Manager.
type Options struct {
	// Secret seals the private keys; at least SecretSize random bytes, the
	// same on every replica. Keep it out of the database and out of logs.
	Secret []byte
	// Alg is the algorithm of the keys this Manager creates: EdDSA (default)
	// or ES256. Existing keys keep theirs: after a change, the active key
	// signs with its own alg until the next rotation.
	Alg jose.SignatureAlgorithm
	// TokenTTL is the longest lifetime of any token signed with these keys;
	// it decides how long a retired key stays published. Default 15m.
	TokenTTL time.Duration
	// RefreshInterval is how often Signer asks the database whether the
	// active key changed; default 5s.
	RefreshInterval time.Duration
	// Leeway is added to a retired key's publication time for verifiers'
	// clock skew; default 1m.
	Leeway time.Duration
	// Clock returns the current time; default time.Now. Tests move it.
	Clock func() time.Time
	// Logger reports background trouble (a failed refresh while a cached
	// key is still used, a failed scheduled rotation); default slog.Default.
	Logger *slog.Logger
}

// String describes o without the secret.
func (o Options) String() string {
	return fmt.Sprintf("keys.Options{Secret: [%d bytes], Alg: %s, TokenTTL: %s, RefreshInterval: %s, Leeway: %s}",
		len(o.Secret), o.Alg, o.TokenTTL, o.RefreshInterval, o.Leeway)
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Secret) < SecretSize {
		return o, fmt.Errorf("keys: Options.Secret has %d bytes, want at least %d", len(o.Secret), SecretSize)
	}
	switch o.Alg {
	case "":
		o.Alg = EdDSA
	case EdDSA, ES256:
	default:
		return o, fmt.Errorf("keys: Options.Alg %q is not supported: want %s or %s", o.Alg, EdDSA, ES256)
	}
	if o.TokenTTL < 0 || o.RefreshInterval < 0 || o.Leeway < 0 {
		return o, errors.New("keys: Options durations must not be negative")
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// publishFor is how long a key stays in the JWKS after it retires.
func (o Options) publishFor() time.Duration { return o.TokenTTL + o.RefreshInterval + o.Leeway }
