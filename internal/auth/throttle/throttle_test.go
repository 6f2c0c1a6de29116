package throttle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

var testPolicy = throttle.Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Window: time.Minute}

func newThrottle(t testing.TB, db *store.DB, c *testenv.Clock) *throttle.Throttle {
	t.Helper()
	p := testPolicy
	p.Clock = c.Now
	th, err := throttle.New(db, p)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func mustCheck(t *testing.T, th *throttle.Throttle, keys ...string) time.Duration {
	t.Helper()
	d, err := th.Check(context.Background(), keys...)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

func mustFail(t *testing.T, th *throttle.Throttle, keys ...string) {
	t.Helper()
	if err := th.Fail(context.Background(), keys...); err != nil {
		t.Fatalf("Fail: %v", err)
	}
}

func failures(t *testing.T, db *store.DB, key string) int {
	t.Helper()
	var n int
	err := db.SQL().QueryRowContext(context.Background(), `SELECT failures FROM auth_throttle WHERE key = $1`, key).Scan(&n)
	if err != nil {
		t.Fatalf("failures of %s: %v", key, err)
	}
	return n
}

// TestBackoff walks one key from its free failures through doubling blocks
// to the cap, checking the wait Check reports at each step.
func TestBackoff(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := newClock()
		th := newThrottle(t, db, c)
		const k = "k"
		for i := 1; i < testPolicy.Free; i++ {
			mustFail(t, th, k)
			if d := mustCheck(t, th, k); d != 0 {
				t.Fatalf("after %d failures (free %d): wait %s", i, testPolicy.Free, d)
			}
		}
		// Failure n blocks for 1s·2^(n−3), capped at 10s.
		steps := []time.Duration{1, 2, 4, 8, 10, 10}
		for i, s := range steps {
			want := s * time.Second
			mustFail(t, th, k)
			if d := mustCheck(t, th, k); d != want {
				t.Fatalf("failure %d: wait %s, want %s", testPolicy.Free+i, d, want)
			}
			c.Advance(want / 4)
			if d := mustCheck(t, th, k); d != want-want/4 {
				t.Fatalf("failure %d, %s later: wait %s, want %s", testPolicy.Free+i, want/4, d, want-want/4)
			}
			c.Advance(want - want/4)
			if d := mustCheck(t, th, k); d != 0 {
				t.Fatalf("failure %d, block over: wait %s", testPolicy.Free+i, d)
			}
		}
		if got, want := throttle.RetryAfter(1500*time.Millisecond), "2"; got != want {
			t.Errorf("RetryAfter(1.5s) = %s, want %s", got, want)
		}
		if got, want := throttle.RetryAfter(time.Millisecond), "1"; got != want {
			t.Errorf("RetryAfter(1ms) = %s, want %s", got, want)
		}
	}, throttle.Migrations)
}

func TestCheckManyKeys(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := newClock()
		th := newThrottle(t, db, c)
		for range 4 { // a: 2s
			mustFail(t, th, "a", "b")
		}
		mustFail(t, th, "a") // a: 4s, b: 2s
		if d := mustCheck(t, th, "b"); d != 2*time.Second {
			t.Errorf("b: wait %s, want 2s", d)
		}
		if d := mustCheck(t, th, "b", "a", "unknown"); d != 4*time.Second {
			t.Errorf("a, b: wait %s, want the longer 4s", d)
		}
		if d := mustCheck(t, th); d != 0 {
			t.Errorf("no keys: wait %s", d)
		}
		if err := th.Fail(context.Background()); err != nil {
			t.Errorf("Fail(): %v", err)
		}
		// A duplicated key counts once per call.
		mustFail(t, th, "c", "c", "")
		if n := failures(t, db, "c"); n != 1 {
			t.Errorf("Fail(c, c): %d failures, want 1", n)
		}
	}, throttle.Migrations)
}

func TestWindow(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := newClock()
		th := newThrottle(t, db, c)
		// Failures spaced just under the window all count …
		for range testPolicy.Free {
			c.Advance(testPolicy.Window - time.Millisecond)
			mustFail(t, th, "slow")
		}
		if d := mustCheck(t, th, "slow"); d != testPolicy.Base {
			t.Errorf("slow failures: wait %s, want %s", d, testPolicy.Base)
		}
		// … and a full window of quiet forgets them: the next failure
		// is the first of a new run, so free again.
		c.Advance(testPolicy.Window)
		if d := mustCheck(t, th, "slow"); d != 0 {
			t.Errorf("after window: wait %s", d)
		}
		mustFail(t, th, "slow")
		if d := mustCheck(t, th, "slow"); d != 0 {
			t.Errorf("first failure of a new run: wait %s", d)
		}
		if n := failures(t, db, "slow"); n != 1 {
			t.Errorf("new run: %d failures, want 1", n)
		}
	}, throttle.Migrations)
}

func TestResetAndPrune(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := context.Background()
		c := newClock()
		th := newThrottle(t, db, c)
		for range 5 {
			mustFail(t, th, "acct", "ip", "other")
		}
		if err := th.Reset(ctx, "acct", "other"); err != nil {
			t.Fatal(err)
		}
		if d := mustCheck(t, th, "acct"); d != 0 {
			t.Errorf("after Reset: wait %s", d)
		}
		if d := mustCheck(t, th, "acct", "ip"); d != 4*time.Second {
			t.Errorf("Reset touched another key: wait %s, want 4s", d)
		}
		mustFail(t, th, "acct")
		if n := failures(t, db, "acct"); n != 1 {
			t.Errorf("after Reset: %d failures, want 1", n)
		}

		c.Advance(testPolicy.Window / 2)
		mustFail(t, th, "recent")
		if n, err := th.Prune(ctx); err != nil || n != 0 {
			t.Fatalf("Prune within window = %d, %v; want 0", n, err)
		}
		c.Advance(testPolicy.Window / 2)
		if n, err := th.Prune(ctx); err != nil || n != 2 { // acct, ip
			t.Fatalf("Prune = %d, %v; want 2", n, err)
		}
		var left []string
		rows, err := db.SQL().QueryContext(ctx, `SELECT key FROM auth_throttle ORDER BY key`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			left = append(left, k)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(left, ",") != "recent" {
			t.Errorf("left after Prune: %v, want [recent]", left)
		}
	}, throttle.Migrations)
}

// TestConcurrentFail fails keys from many goroutines at once, in both key
// orders: every failure is counted and nothing deadlocks.
func TestConcurrentFail(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		th := newThrottle(t, db, newClock())
		const workers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for range each {
					keys := []string{"x", "y"}
					if w%2 == 1 {
						keys = []string{"y", "x"}
					}
					if err := th.Fail(context.Background(), keys...); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, k := range []string{"x", "y"} {
			if n := failures(t, db, k); n != workers*each {
				t.Errorf("%s: %d failures, want %d", k, n, workers*each)
			}
		}
		if d := mustCheck(t, th, "x"); d != testPolicy.Max {
			t.Errorf("wait %s, want the cap %s", d, testPolicy.Max)
		}
	}, throttle.Migrations)
}

// TestReplicasShareState runs two Throttles on two connection pools to one
// database, as two replicas of the auth service would.
func TestReplicasShareState(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db1, db2 := openTwice(t, d)
			c := newClock()
			a, b := newThrottle(t, db1, c), newThrottle(t, db2, c)
			for i := range testPolicy.Free {
				th := a
				if i%2 == 1 {
					th = b
				}
				mustFail(t, th, "shared")
			}
			if d := mustCheck(t, b, "shared"); d != testPolicy.Base {
				t.Errorf("replica b: wait %s, want %s", d, testPolicy.Base)
			}
			if err := b.Reset(context.Background(), "shared"); err != nil {
				t.Fatal(err)
			}
			if d := mustCheck(t, a, "shared"); d != 0 {
				t.Errorf("replica a after b's Reset: wait %s", d)
			}
		})
	}
}

// openTwice opens one fresh database of dialect d through two independent
// store.DBs, migrated.
func openTwice(t *testing.T, d store.Dialect) (*store.DB, *store.DB) {
	t.Helper()
	ctx := context.Background()
	url, opts := "", store.Options{Name: "throttle_test"}
	switch d {
	case store.SQLite:
		url = "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	case store.Postgres:
		url = testenv.PostgresURL(t)
		opts.Schema = "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	open := func() *store.DB {
		db, err := store.Open(ctx, url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db1, db2 := open(), open()
	if opts.Schema != "" {
		t.Cleanup(func() { // registered last, so it runs before the Closes
			q := "DROP SCHEMA IF EXISTS " + pgx.Identifier{opts.Schema}.Sanitize() + " CASCADE"
			if _, err := db1.SQL().ExecContext(context.Background(), q); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
	}
	if err := db1.Migrate(ctx, throttle.Migrations); err != nil {
		t.Fatal(err)
	}
	return db1, db2
}

// BenchmarkCheckFail measures one guarded attempt: a Check, then a Fail on an
// account key and an IP key, spread over many accounts.
func BenchmarkCheckFail(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d, throttle.Migrations)
			th, err := throttle.New(db, throttle.Policy{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				acct := throttle.AccountKey(throttle.SignIn, fmt.Sprintf("user%d@example.com", i%1000))
				ip := throttle.IPKey(throttle.SignIn, fmt.Sprintf("198.51.100.%d", i%250))
				if _, err := th.Check(ctx, acct, ip); err != nil {
					b.Fatal(err)
				}
				if err := th.Fail(ctx, acct, ip); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
