// Package throttle protects the auth service's secrets from guessing:
// passwords at sign-in, reset and verification tokens, one-time codes. It
// counts failures per key — an account, an IP prefix — and blocks a key with
// exponential backoff once it has failed too often (see Policy).
//
// The counts live in the auth service's own database (apply Migrations with
// its other migrations), so every replica sees every failure: an attacker
// gains nothing by spreading guesses over replicas. Each operation is one
// short transaction; nothing is cached in memory.
//
// A request handler uses it like this, with keys from AccountKey and IPKey:
//
//	keys := []string{throttle.AccountKey(throttle.SignIn, email), throttle.IPKey(throttle.SignIn, ip)}
//	if wait, err := th.Check(ctx, keys...); err != nil {
//		return err
//	} else if wait > 0 {
//		// answer 429, header Retry-After: throttle.RetryAfter(wait)
//	}
//	if !passwordMatches {
//		err := th.Fail(ctx, keys...) // also when the account does not exist
//		…
//	}
//	th.Reset(ctx, accountKey) // on success
package throttle

import (
	"context"
	"embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the auth_throttle table; apply it with the auth
// service's own migrations.
var Migrations = store.Embedded("auththrottle", migrations, "migrations")

// Throttle counts failures and blocks keys. It is safe for concurrent use,
// and any number of Throttles (in one process or in replicas) may share a
// database: they see and update the same counts.
type Throttle struct {
	db *store.DB
	p  Policy
}

// New returns a Throttle on db, which must have Migrations applied. Zero
// fields of p take their defaults; an inconsistent policy is an error.
func New(db *store.DB, p Policy) (*Throttle, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Throttle{db: db, p: p}, nil
}

// Policy returns the policy in effect, defaults filled in.
func (t *Throttle) Policy() Policy { return t.p }

// Check returns how long the caller must wait before trying again: 0 when no
// key is blocked, else the longest remaining block among keys. It changes
// nothing.
func (t *Throttle) Check(ctx context.Context, keys ...string) (time.Duration, error) {
	keys = normalize(keys)
	if len(keys) == 0 {
		return 0, nil
	}
	now := t.p.Clock()
	args := make([]any, 0, len(keys)+1)
	args = append(args, millis(now))
	for _, k := range keys {
		args = append(args, k)
	}
	q := `SELECT COALESCE(MAX(blocked_until), 0) FROM auth_throttle WHERE blocked_until > $1 AND key IN (` + placeholders(2, len(keys)) + `)`
	var until int64
	if err := t.db.SQL().QueryRowContext(ctx, q, args...).Scan(&until); err != nil {
		return 0, fmt.Errorf("throttle: check: %w", err)
	}
	if until == 0 {
		return 0, nil
	}
	return time.UnixMilli(until).Sub(now), nil
}

// upsertFailure counts one failure of key $1 at $2, starting a new run when
// the last failure is at or before $3 (now − Window), and returns the count.
// It is one statement, so concurrent failures of one key are all counted: the
// conflicting insert waits for the row lock and then updates.
const upsertFailure = `
INSERT INTO auth_throttle (key, failures, window_start, last_failure, blocked_until)
VALUES ($1, 1, $2, $2, 0)
ON CONFLICT (key) DO UPDATE SET
	failures      = CASE WHEN auth_throttle.last_failure <= $3 THEN 1  ELSE auth_throttle.failures + 1 END,
	window_start  = CASE WHEN auth_throttle.last_failure <= $3 THEN $2 ELSE auth_throttle.window_start END,
	blocked_until = CASE WHEN auth_throttle.last_failure <= $3 THEN 0  ELSE auth_throttle.blocked_until END,
	last_failure  = $2
RETURNING failures`

// Fail records one failure on each key, in one transaction, and blocks the
// keys whose count reached the backoff. A block never shortens one already
// in place.
func (t *Throttle) Fail(ctx context.Context, keys ...string) error {
	// Sorted keys lock rows in one order, so two Fails on overlapping keys
	// cannot deadlock on PostgreSQL.
	keys = normalize(keys)
	if len(keys) == 0 {
		return nil
	}
	now := millis(t.p.Clock())
	cutoff := now - t.p.Window.Milliseconds()
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		for _, k := range keys {
			var n int
			if err := tx.QueryRowContext(ctx, upsertFailure, k, now, cutoff).Scan(&n); err != nil {
				return err
			}
			d := t.p.block(n)
			if d == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx,
				`UPDATE auth_throttle SET blocked_until = $2 WHERE key = $1 AND blocked_until < $2`,
				k, now+d.Milliseconds()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("throttle: fail: %w", err)
	}
	return nil
}

// Reset forgets the failures of keys, after a success.
func (t *Throttle) Reset(ctx context.Context, keys ...string) error {
	keys = normalize(keys)
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	q := `DELETE FROM auth_throttle WHERE key IN (` + placeholders(1, len(keys)) + `)`
	if _, err := t.db.SQL().ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("throttle: reset: %w", err)
	}
	return nil
}

// Prune deletes the rows of keys that are neither blocked nor have failed
// within Window — rows Check and Fail would treat as absent — and returns how
// many it deleted. Run it now and then (every few minutes) from one or all
// replicas; it is idempotent.
func (t *Throttle) Prune(ctx context.Context) (int64, error) {
	now := millis(t.p.Clock())
	res, err := t.db.SQL().ExecContext(ctx,
		`DELETE FROM auth_throttle WHERE last_failure <= $1 AND blocked_until <= $2`,
		now-t.p.Window.Milliseconds(), now)
	if err != nil {
		return 0, fmt.Errorf("throttle: prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("throttle: prune: %w", err)
	}
	return n, nil
}

// RetryAfter formats a wait returned by Check as the value of a Retry-After
// header: whole seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) string {
	s := max(int64((wait+time.Second-1)/time.Second), 1)
	return strconv.FormatInt(s, 10)
}

// normalize returns keys sorted, without duplicates or empty keys.
func normalize(keys []string) []string {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	slices.Sort(keys)
	return slices.Compact(keys)
}

// placeholders returns "$from, $from+1, …", n of them.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

func millis(t time.Time) int64 { return t.UnixMilli() }
