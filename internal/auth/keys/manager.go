package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/store"
)

// Manager signs with, rotates and publishes the signing keys in one
// database. It is safe for concurrent use; every replica has its own.
type Manager struct {
	db     *store.DB
	opts   Options
	sealer *sealer

	cur       atomic.Pointer[cachedKey]
	refreshMu sync.Mutex // one refresh at a time
}

// cachedKey is the active key as last confirmed by the database.
type cachedKey struct {
	key     *SigningKey
	checked time.Time
}

// New returns a Manager for the keys in db, which must have Migrations
// applied. It does not touch the database: call Ensure at start.
func New(db *store.DB, opts Options) (*Manager, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s, err := newSealer(opts.Secret)
	if err != nil {
		return nil, err
	}
	return &Manager{db: db, opts: opts, sealer: s}, nil
}

// now is the Manager's clock in UTC, at the microsecond precision both
// dialects store.
func (m *Manager) now() time.Time { return m.opts.Clock().UTC().Truncate(time.Microsecond) }

// Signer returns the active key. It answers from memory, and asks the
// database whether the active key changed at most every RefreshInterval. If
// that check fails while a key is cached, the cached key is returned (and the
// failure logged): signing goes on through a database blip, and the old key
// stays published for longer than that anyway.
func (m *Manager) Signer(ctx context.Context) (*SigningKey, error) {
	c := m.cur.Load()
	if c != nil && m.now().Sub(c.checked) < m.opts.RefreshInterval {
		return c.key, nil
	}
	if c != nil {
		if !m.refreshMu.TryLock() {
			return c.key, nil // another goroutine is refreshing
		}
	} else {
		m.refreshMu.Lock()
	}
	defer m.refreshMu.Unlock()
	if c2 := m.cur.Load(); c2 != c && c2 != nil {
		return c2.key, nil // refreshed while we waited for the lock
	}
	key, err := m.refresh(ctx, c)
	if err != nil {
		if c != nil && ctx.Err() == nil && !errors.Is(err, ErrNoActiveKey) {
			m.opts.Logger.Warn("keys: checking the active key failed; signing with the cached one",
				"kid", c.key.KID, "err", err)
			return c.key, nil
		}
		return nil, err
	}
	return key, nil
}

// refresh reads which key is active and loads it unless it is c's.
func (m *Manager) refresh(ctx context.Context, c *cachedKey) (*SigningKey, error) {
	now := m.now()
	active, err := selectActive(ctx, m.db.SQL())
	if err != nil {
		return nil, err
	}
	if active == nil {
		return nil, ErrNoActiveKey
	}
	if c != nil && c.key.KID == active.kid {
		m.cur.CompareAndSwap(c, &cachedKey{key: c.key, checked: now})
		return c.key, nil
	}
	var alg string
	var sealed []byte
	err = m.db.SQL().QueryRowContext(ctx,
		`SELECT alg, private_key FROM auth_signing_keys WHERE kid = $1`, active.kid).Scan(&alg, &sealed)
	if err != nil {
		return nil, fmt.Errorf("keys: load key %s: %w", active.kid, err)
	}
	key, err := openKey(m.sealer, active.kid, jose.SignatureAlgorithm(alg), sealed)
	if err != nil {
		return nil, err
	}
	m.setCached(key, now)
	return key, nil
}

// setCached makes key the cached active key, checked at the given time.
func (m *Manager) setCached(key *SigningKey, checked time.Time) {
	m.cur.Store(&cachedKey{key: key, checked: checked})
}

// Sign returns claims (encoded as JSON) as a compact JWS access token signed
// by the active key, with the headers alg, kid and typ=at+jwt. The claims
// (iss, sub, aud, exp, …) are the caller's; exp must not exceed
// Options.TokenTTL from now, or the token outlives its key's publication.
func (m *Manager) Sign(ctx context.Context, claims any) (string, error) {
	k, err := m.Signer(ctx)
	if err != nil {
		return "", err
	}
	return k.Sign(claims, TypeAccessToken)
}

// SignIDToken is Sign with typ=JWT, for OpenID Connect id_tokens.
func (m *Manager) SignIDToken(ctx context.Context, claims any) (string, error) {
	k, err := m.Signer(ctx)
	if err != nil {
		return "", err
	}
	return k.Sign(claims, TypeJWT)
}
