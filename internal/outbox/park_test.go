package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/testenv"
)

// TestAnEventThatFailsAloneIsParked: an event no stream takes, among
// events that go out, is parked after ParkAfter passes in which it alone
// failed. Events after it are published without waiting for it (no
// backoff: MaxBackoff is long here), and once a stream takes it the
// retry of parked rows publishes it.
func TestAnEventThatFailsAloneIsParked(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		good := bustest.Service(t, b) // has a stream
		bad := bustest.ServiceName()  // has none yet
		o := newOutbox(t, db, b, outbox.Options{PollInterval: 20 * time.Millisecond, MaxBackoff: time.Minute,
			ParkAfter: 2, ParkFailingFor: time.Millisecond, ParkedRetry: 500 * time.Millisecond})
		enqueue := func(ev bus.Event) {
			t.Helper()
			if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, ev) }); err != nil {
				t.Fatal(err)
			}
		}
		poison := newEvent(t, bad, 0)
		enqueue(poison)
		enqueue(newEvent(t, good, 1)) // the first pass: the poison fails alone
		startOutbox(t, o)
		testenv.WaitFor(t, 10*time.Second, "the first good event published", func() bool { return outboxLen(t, db) == 1 })
		enqueue(newEvent(t, good, 2)) // waits out the backoff of the pass that had only the poison
		testenv.WaitFor(t, 10*time.Second, "the poison parked", func() bool {
			var failures int
			var parked *time.Time
			err := db.SQL().QueryRowContext(ctx, `SELECT lone_failures, parked_at FROM bam_outbox WHERE id = $1`,
				poison.ID()).Scan(&failures, &parked)
			return err == nil && failures == 2 && parked != nil
		})
		if n := outboxLen(t, db); n != 1 {
			t.Fatalf("%d rows in the outbox, want the parked one only", n)
		}
		testenv.WaitFor(t, 5*time.Second, "bam_outbox_parked at 1, lag 0", func() bool {
			_, lag := gauges(t)
			return parkedGauge(t) == 1 && lag == 0
		})

		// With the poison parked, an event goes out at once: no pass has
		// it alone to back off for.
		start := time.Now()
		enqueue(newEvent(t, good, 3))
		testenv.WaitFor(t, 10*time.Second, "the third good event published", func() bool { return outboxLen(t, db) == 1 })
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("an event after the parked one took %v", d)
		}
		// (On SQLite the third event's row went with KeepPublished: the
		// row left must be the parked one, which that delete skips.)
		var left string
		if err := db.SQL().QueryRowContext(ctx, `SELECT id FROM bam_outbox`).Scan(&left); err != nil || left != poison.ID() {
			t.Fatalf("the row left is %q (%v), want the parked poison %s", left, err, poison.ID())
		}

		// Once a stream takes it, the retry of parked rows publishes it.
		if err := b.EnsureStream(ctx, bad); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.JetStream().DeleteStream(context.Background(), bus.StreamName(bad)) })
		testenv.WaitFor(t, 10*time.Second, "the parked event published", func() bool { return outboxLen(t, db) == 0 })
		testenv.WaitFor(t, 5*time.Second, "bam_outbox_parked at 0", func() bool { return parkedGauge(t) == 0 })
	}, sets...)
}

// parkedGauge reads bam_outbox_parked of the test database ("test").
func parkedGauge(t *testing.T) float64 { return testenv.Metric(t, "bam_outbox_parked", "db", "test") }

// TestEveryParkedEventIsRetried: the retry of parked rows goes through all
// of them, a batch at a time, past rows that still fail.
func TestEveryParkedEventIsRetried(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		never, later := bustest.ServiceName(), bustest.ServiceName() // no streams yet
		o := newOutbox(t, db, b, outbox.Options{PollInterval: 20 * time.Millisecond, BatchSize: 2,
			ParkedRetry: 200 * time.Millisecond})
		var last bus.Event
		for _, ev := range []bus.Event{newEvent(t, never, 1), newEvent(t, never, 2), newEvent(t, never, 3), newEvent(t, later, 4)} {
			if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, ev) }); err != nil {
				t.Fatal(err)
			}
			last = ev
		}
		// As settle parks them: all four, the one that can go out last.
		if _, err := db.SQL().ExecContext(ctx,
			`UPDATE bam_outbox SET lone_failures = 5, failing_since = created_at, parked_at = created_at`); err != nil {
			t.Fatal(err)
		}
		if err := b.EnsureStream(ctx, later); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.JetStream().DeleteStream(context.Background(), bus.StreamName(later)) })
		startOutbox(t, o)
		testenv.WaitFor(t, 10*time.Second, "the parked event behind two failing batches published", func() bool {
			var n int
			err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bam_outbox WHERE id = $1`, last.ID()).Scan(&n)
			return err == nil && n == 0
		})
		if n := outboxLen(t, db); n != 3 {
			t.Errorf("%d rows left, want the 3 that still fail, parked", n)
		}
		testenv.WaitFor(t, 5*time.Second, "bam_outbox_parked at 3", func() bool { return parkedGauge(t) == 3 })
	}, sets...)
}
