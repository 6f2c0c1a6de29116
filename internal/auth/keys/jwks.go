package keys

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeyInfo describes a stored key, without its private half: for the admin
// API and for operators.
type KeyInfo struct {
	KID         string
	Alg         jose.SignatureAlgorithm
	CreatedAt   time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time // zero while active
	ExpiresAt   time.Time // zero while active; leaves the JWKS then
	PublicJWK   jose.JSONWebKey
}

// Active reports whether k is the key that signs.
func (k KeyInfo) Active() bool { return k.RetiredAt.IsZero() }

// Keys lists every stored key, the most recently activated first, including
// expired ones not yet pruned.
func (m *Manager) Keys(ctx context.Context) ([]KeyInfo, error) {
	rows, err := m.db.SQL().QueryContext(ctx,
		`SELECT kid, alg, public_jwk, created_at, activated_at, retired_at, expires_at
		 FROM auth_signing_keys ORDER BY activated_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	defer rows.Close()
	var out []KeyInfo
	for rows.Next() {
		var (
			k                  KeyInfo
			alg, jwk           string
			retired, expiresAt sql.NullTime
		)
		if err := rows.Scan(&k.KID, &alg, &jwk, &k.CreatedAt, &k.ActivatedAt, &retired, &expiresAt); err != nil {
			return nil, fmt.Errorf("keys: list keys: %w", err)
		}
		if err := k.PublicJWK.UnmarshalJSON([]byte(jwk)); err != nil {
			return nil, fmt.Errorf("keys: key %s: decode public key: %w", k.KID, err)
		}
		k.Alg = jose.SignatureAlgorithm(alg)
		k.CreatedAt, k.ActivatedAt = k.CreatedAt.UTC(), k.ActivatedAt.UTC()
		if retired.Valid {
			k.RetiredAt = retired.Time.UTC()
		}
		if expiresAt.Valid {
			k.ExpiresAt = expiresAt.Time.UTC()
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	return out, nil
}

// JWKS returns the public keys that verifiers should accept, for
// /.well-known/jwks.json: the active key first, then retired keys whose tokens
// may still be valid. Each has kid, alg and use=sig.
func (m *Manager) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	infos, err := m.Keys(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range infos {
		if k.Active() || now.Before(k.ExpiresAt) {
			set.Keys = append(set.Keys, k.PublicJWK)
		}
	}
	return set, nil
}
