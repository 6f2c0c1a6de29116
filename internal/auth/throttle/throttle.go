// Package throttle protects the auth service's secrets from guessing:
// passwords at sign-in, reset and verification tokens, one-time codes. It
// counts failures per key — an account, an IP prefix — and blocks a key with
// exponential backoff once it has failed too often (see Policy).
//
// The counts live in the auth service's own database (apply Migrations with
// its other migrations), so every replica sees every failure: an attacker
// gains nothing by spreading guesses over replicas. Each operation is one
// short transaction, or rides in the caller's (Probe: a check inside
// another query; FailIn: failures inside the caller's transaction);
// nothing is cached in memory.
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
//
// Where concurrent requests may guess the same secret (a second factor,
// with many challenges open at once), Attempt replaces Check and Fail: it
// counts the attempt before the secret is compared, atomically with the
// check, so that no more than the allowance get through.
package throttle

import (
	"context"
	"database/sql"
	"embed"
	"errors"
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

// DB returns the database the Throttle keeps its counts in.
func (t *Throttle) DB() *store.DB { return t.db }

// Policy returns the policy in effect, defaults filled in.
func (t *Throttle) Policy() Policy { return t.p }

// Check returns how long the caller must wait before trying again: 0 when no
// key is blocked, else the longest remaining block among keys. It changes
// nothing.
func (t *Throttle) Check(ctx context.Context, keys ...string) (time.Duration, error) {
	wait, _, err := t.CheckKnown(ctx, keys...)
	return wait, err
}

// CheckKnown is Check, also returning which of keys have failures counted:
// after a success, only those need a Reset (a success is the usual case,
// and a Reset of nothing is one more statement).
func (t *Throttle) CheckKnown(ctx context.Context, keys ...string) (wait time.Duration, known []string, err error) {
	p := t.Probe(keys...)
	if len(p.keys) == 0 {
		return 0, nil, nil
	}
	from, args := p.From(1)
	if err := t.db.SQL().QueryRowContext(ctx, `SELECT `+p.Columns("t")+` FROM `+from+` t`, args...).
		Scan(p.Dests()...); err != nil {
		return 0, nil, fmt.Errorf("throttle: check: %w", err)
	}
	wait, known = p.Result()
	return wait, known, nil
}

// Probe is CheckKnown carried by another query: a caller about to read
// something anyway (a sign-in reads the user) learns the keys' state in
// the same statement, a round trip fewer. Put From in the query's FROM
// clause under an alias, and its Columns under that alias in the select
// list; scan them into Dests, then read Result:
//
//	p := th.Probe(keys...)
//	from, args := p.From(2) // $1 is the caller's
//	row := db.QueryRowContext(ctx, `SELECT `+p.Columns("t")+`, u.name
//		FROM `+from+` t LEFT JOIN users u ON u.email = $1`, append([]any{email}, args...)...)
//	err := row.Scan(append(p.Dests(), &name)...)
//	wait, known := p.Result()
//
// From is always exactly one row, so a LEFT JOIN of what the caller reads
// answers whether or not that exists. A Probe is for one query.
type Probe struct {
	keys  []string
	now   time.Time
	known []int64 // per key of keys: 1 when it has a row
	until int64   // the latest blocked_until among keys
}

// Probe returns a probe of keys at the current time; see Probe.
func (t *Throttle) Probe(keys ...string) *Probe {
	keys = normalize(keys)
	return &Probe{keys: keys, now: t.p.Clock(), known: make([]int64, len(keys))}
}

// From returns the probe as a subquery of one row, to alias in a FROM
// clause, with its placeholders numbered from first, and their arguments.
func (p *Probe) From(first int) (string, []any) {
	var b strings.Builder
	b.WriteString("(SELECT COALESCE(MAX(blocked_until), 0) AS throttle_until")
	for i := range p.keys {
		fmt.Fprintf(&b, ", COUNT(CASE WHEN key = $%d THEN 1 END) AS throttle_known%d", first+i, i)
	}
	args := make([]any, len(p.keys))
	for i, k := range p.keys {
		args[i] = k
	}
	b.WriteString(" FROM auth_throttle")
	if len(p.keys) > 0 {
		b.WriteString(" WHERE key IN (" + placeholders(first, len(p.keys)) + ")")
	} else {
		b.WriteString(" WHERE 1 = 0")
	}
	b.WriteString(")")
	return b.String(), args
}

// Columns lists the columns of From aliased as alias, for a select list.
func (p *Probe) Columns(alias string) string {
	cols := []string{alias + ".throttle_until"}
	for i := range p.keys {
		cols = append(cols, alias+".throttle_known"+strconv.Itoa(i))
	}
	return strings.Join(cols, ", ")
}

// Dests are the destinations, for Scan, of the Columns.
func (p *Probe) Dests() []any {
	dests := []any{&p.until}
	for i := range p.known {
		dests = append(dests, &p.known[i])
	}
	return dests
}

// Result is what CheckKnown answers, from the scanned columns: how long
// to wait (0: no key is blocked) and which keys have failures counted.
func (p *Probe) Result() (wait time.Duration, known []string) {
	for i, k := range p.keys {
		if p.known[i] > 0 {
			known = append(known, k)
		}
	}
	if p.until <= millis(p.now) {
		return 0, known
	}
	return time.UnixMilli(p.until).Sub(p.now), known
}

// upsertFailureSet counts one failure of key $1 at $2, starting a new run
// when the last failure is at or before $3 (now − Window). It is one
// statement, so concurrent failures of one key are all counted: the
// conflicting insert waits for the row lock and then updates.
const upsertFailureSet = `
INSERT INTO auth_throttle (key, failures, window_start, last_failure, blocked_until)
VALUES ($1, 1, $2, $2, 0)
ON CONFLICT (key) DO UPDATE SET
	failures      = CASE WHEN auth_throttle.last_failure <= $3 THEN 1  ELSE auth_throttle.failures + 1 END,
	window_start  = CASE WHEN auth_throttle.last_failure <= $3 THEN $2 ELSE auth_throttle.window_start END,
	blocked_until = CASE WHEN auth_throttle.last_failure <= $3 THEN 0  ELSE auth_throttle.blocked_until END,
	last_failure  = $2`

// upsertFailure counts a failure and returns the count.
const upsertFailure = upsertFailureSet + `
RETURNING failures`

// upsertAttempt counts a failure unless the key is blocked at $2, and
// returns the count: no row when blocked. The condition is evaluated on
// the row as locked, after any concurrent attempt has committed.
const upsertAttempt = upsertFailureSet + `
WHERE auth_throttle.blocked_until <= $2
RETURNING failures`

// Fail records one failure on each key, in one transaction, and blocks the
// keys whose count reached the backoff. A block never shortens one already
// in place.
func (t *Throttle) Fail(ctx context.Context, keys ...string) error {
	if _, err := t.count(ctx, keys, false); err != nil {
		return fmt.Errorf("throttle: fail: %w", err)
	}
	return nil
}

// FailIn is Fail inside tx, a transaction of the caller's on the
// Throttle's database: the failures count if and only if tx commits,
// together with whatever else tx records about them (a failed sign-in's
// audit record and event), in one transaction rather than two.
func (t *Throttle) FailIn(ctx context.Context, tx *store.Tx, keys ...string) error {
	if _, err := t.countIn(ctx, tx, normalize(keys), t.p.Clock(), false); err != nil {
		return fmt.Errorf("throttle: fail: %w", err)
	}
	return nil
}

// Attempt is Check and Fail in one step, for a secret checked by several
// requests at once: unless a key is blocked, it counts one failure on each
// key before the caller compares anything, and returns 0; the caller then
// Resets the keys if the secret was right. When a key is blocked it counts
// nothing and returns the longest wait. Check, then Fail after a wrong
// secret, lets any number of concurrent requests pass the Check before the
// first Fail; Attempt lets exactly Free of them through before a block, on
// one replica or many.
func (t *Throttle) Attempt(ctx context.Context, keys ...string) (time.Duration, error) {
	wait, err := t.count(ctx, keys, true)
	if err != nil {
		return 0, fmt.Errorf("throttle: attempt: %w", err)
	}
	return wait, nil
}

// errBlocked rolls back an Attempt that found a key blocked.
var errBlocked = errors.New("throttle: blocked")

// count counts a failure on each key, in one transaction, and blocks the
// keys whose count reached the backoff. With unlessBlocked, a blocked key
// makes it count nothing and return the longest wait.
func (t *Throttle) count(ctx context.Context, keys []string, unlessBlocked bool) (time.Duration, error) {
	// Sorted keys lock rows in one order, so two calls on overlapping keys
	// cannot deadlock on PostgreSQL.
	keys = normalize(keys)
	if len(keys) == 0 {
		return 0, nil
	}
	now := t.p.Clock()
	var wait time.Duration
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		wait, err = t.countIn(ctx, tx, keys, now, unlessBlocked)
		if err == nil && wait > 0 {
			return errBlocked // count nothing
		}
		return err
	})
	if errors.Is(err, errBlocked) {
		return wait, nil
	}
	return 0, err
}

// countIn is count's work in tx, on normalized keys, at now. With
// unlessBlocked it returns the longest wait of the blocked keys, and the
// caller must then roll tx back: the other keys' failures are counted.
func (t *Throttle) countIn(ctx context.Context, tx *store.Tx, keys []string, at time.Time, unlessBlocked bool) (time.Duration, error) {
	now := millis(at)
	cutoff := now - t.p.Window.Milliseconds()
	upsert := upsertFailure
	if unlessBlocked {
		upsert = upsertAttempt
	}
	var wait time.Duration
	for _, k := range keys {
		var n int
		err := tx.QueryRowContext(ctx, upsert, k, now, cutoff).Scan(&n)
		if unlessBlocked && errors.Is(err, sql.ErrNoRows) {
			var until int64
			err := tx.QueryRowContext(ctx, `SELECT blocked_until FROM auth_throttle WHERE key = $1`, k).Scan(&until)
			if errors.Is(err, sql.ErrNoRows) {
				until = now + 1 // reset since (PostgreSQL): blocked a moment ago
			} else if err != nil {
				return 0, err
			}
			wait = max(wait, time.Duration(until-now)*time.Millisecond)
			continue
		}
		if err != nil {
			return 0, err
		}
		d := t.p.block(n)
		if d == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE auth_throttle SET blocked_until = $2 WHERE key = $1 AND blocked_until < $2`,
			k, now+d.Milliseconds()); err != nil {
			return 0, err
		}
	}
	return wait, nil
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
