package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// maxRaceRetries bounds how often a create or rotation that lost a race to
// another replica looks again.
const maxRaceRetries = 5

// Ensure creates and activates a key if there is no active one; otherwise it
// does nothing. Call it at start. Replicas calling it at once end up with one
// active key between them.
func (m *Manager) Ensure(ctx context.Context) error {
	_, _, err := m.replace(ctx, func(active *activeRow) bool { return active == nil })
	return err
}

// Rotate creates a new active key and retires the previous one, which stays
// in the JWKS until its tokens have expired. It returns the new kid. Two
// Rotate calls at once rotate twice, one after the other.
func (m *Manager) Rotate(ctx context.Context) (kid string, err error) {
	kid, _, err = m.replace(ctx, func(*activeRow) bool { return true })
	return kid, err
}

// RotateIfOlder rotates when the active key was activated maxAge or longer
// ago (or creates one if there is none) and reports whether it did. Replicas
// calling it at once rotate once.
func (m *Manager) RotateIfOlder(ctx context.Context, maxAge time.Duration) (rotated bool, err error) {
	now := m.now()
	_, rotated, err = m.replace(ctx, func(active *activeRow) bool {
		return active == nil || !now.Before(active.activatedAt.Add(maxAge))
	})
	return rotated, err
}

// activeRow is what replace decides on.
type activeRow struct {
	kid         string
	activatedAt time.Time
}

// replace retires the active key and activates a new one if due(active)
// says so (active is nil when there is none). A unique violation means
// another replica activated a key meanwhile: look again, up to a few times.
func (m *Manager) replace(ctx context.Context, due func(active *activeRow) bool) (kid string, done bool, err error) {
	// Look first without a transaction: the usual answer (Ensure on a
	// running system, RotateEvery between rotations) is "nothing to do",
	// and on SQLite every transaction takes the write lock.
	active, err := selectActive(ctx, m.db.SQL())
	if err != nil {
		return "", false, err
	}
	if !due(active) {
		return active.kid, false, nil
	}
	for range maxRaceRetries {
		nk, err := generate(m.opts.Alg, m.sealer)
		if err != nil {
			return "", false, err
		}
		done = false
		err = m.db.InTx(ctx, func(tx *store.Tx) error {
			if err := lockForRotation(ctx, tx); err != nil {
				return err
			}
			active, err := selectActive(ctx, tx)
			if err != nil {
				return err
			}
			if !due(active) {
				kid, done = active.kid, false
				return nil
			}
			now := m.now()
			if active != nil {
				if _, err := tx.ExecContext(ctx,
					`UPDATE auth_signing_keys SET retired_at = $1, expires_at = $2 WHERE kid = $3 AND retired_at IS NULL`,
					now, now.Add(m.opts.publishFor()), active.kid); err != nil {
					return fmt.Errorf("keys: retire %s: %w", active.kid, err)
				}
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO auth_signing_keys (kid, alg, private_key, public_jwk, created_at, activated_at)
				 VALUES ($1, $2, $3, $4, $5, $5)`,
				nk.key.KID, string(nk.key.Alg), nk.sealed, string(nk.publicJWK), now); err != nil {
				return fmt.Errorf("keys: insert %s: %w", nk.key.KID, err)
			}
			kid, done = nk.key.KID, true
			tx.OnCommit(func() { m.setCached(nk.key, now) })
			return nil
		})
		if store.IsUniqueViolation(err) {
			continue
		}
		return kid, done, err
	}
	return "", false, errors.New("keys: gave up activating a key: other replicas keep winning the race")
}

// lockForRotation makes concurrent rotations on PostgreSQL take turns
// rather than race (SQLite transactions take turns anyway): each then sees
// the key the one before it activated, instead of failing on it, which
// under load could happen to one replica maxRaceRetries times in a row.
// Reads (signing, the JWKS) are not blocked: SHARE ROW EXCLUSIVE conflicts
// only with writers.
func lockForRotation(ctx context.Context, tx *store.Tx) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE auth_signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("keys: lock for rotation: %w", err)
	}
	return nil
}

// selectActive returns the active key, or nil if there is none.
func selectActive(ctx context.Context, q store.Querier) (*activeRow, error) {
	var a activeRow
	err := q.QueryRowContext(ctx,
		`SELECT kid, activated_at FROM auth_signing_keys WHERE retired_at IS NULL`).Scan(&a.kid, &a.activatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read the active key: %w", err)
	}
	return &a, nil
}

// Prune deletes retired keys whose expires_at has passed and returns how
// many. They are out of the JWKS already; this only tidies the table.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	infos, err := m.Keys(ctx)
	if err != nil {
		return 0, err
	}
	now := m.now()
	n := 0
	for _, k := range infos {
		if k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) {
			continue
		}
		res, err := m.db.SQL().ExecContext(ctx,
			`DELETE FROM auth_signing_keys WHERE kid = $1 AND retired_at IS NOT NULL`, k.KID)
		if err != nil {
			return n, fmt.Errorf("keys: prune %s: %w", k.KID, err)
		}
		if c, _ := res.RowsAffected(); c > 0 {
			n++
		}
	}
	return n, nil
}

// RotateEvery runs scheduled rotation until ctx ends, then returns nil: it
// checks a few times per interval (at most every minute) whether the active
// key is interval old, rotates it if so (RotateIfOlder), and prunes expired
// keys. Every replica may run it; they rotate once per interval between
// them. Failures are logged and retried at the next check.
func (m *Manager) RotateEvery(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("keys: rotation interval %s must be positive", interval)
	}
	tick := time.NewTicker(min(max(interval/10, 10*time.Millisecond), time.Minute))
	defer tick.Stop()
	for {
		if rotated, err := m.RotateIfOlder(ctx, interval); err != nil && ctx.Err() == nil {
			m.opts.Logger.Warn("keys: scheduled rotation failed", "err", err)
		} else if rotated {
			m.opts.Logger.Info("keys: rotated the signing key")
		}
		if _, err := m.Prune(ctx); err != nil && ctx.Err() == nil {
			m.opts.Logger.Warn("keys: pruning expired keys failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
