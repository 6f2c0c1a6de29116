package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

var errRollback = errors.New("rolled back on purpose")

// TestCrashBetweenPublishAndDelete: committed events are delivered and
// applied exactly once across a relay crash; rolled-back ones never leave.
func TestCrashBetweenPublishAndDelete(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		svc := bustest.Service(t, b)
		consume(t, b, db, svc, nil)

		first := newOutbox(t, db, b, outbox.Options{PollInterval: time.Hour, BatchSize: 100})
		crashed := outbox.CrashAfterPublish(first)
		committed, rolledBack := map[string]bool{}, map[string]bool{}
		for i := range 40 {
			ev := newEvent(t, svc, i)
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := first.Enqueue(ctx, tx, ev); err != nil {
					return err
				}
				if i%4 == 3 {
					return errRollback
				}
				return nil
			})
			switch {
			case err == nil:
				committed[ev.ID()] = true
			case errors.Is(err, errRollback):
				rolledBack[ev.ID()] = true
			default:
				t.Fatal(err)
			}
		}

		startOutbox(t, first)
		select {
		case <-crashed:
		case <-ctx.Done():
			t.Fatal("the relay never published")
		}
		if err := first.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if n := outboxLen(t, db); n != len(committed) {
			t.Fatalf("after the crash the outbox holds %d rows, want all %d committed", n, len(committed))
		}

		second := newOutbox(t, db, b, outbox.Options{PollInterval: time.Hour})
		startOutbox(t, second)
		testenv.WaitFor(t, 20*time.Second, "every committed event applied", func() bool {
			return len(effects(t, db)) == len(committed) && outboxLen(t, db) == 0
		})
		time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
		for id, n := range effects(t, db) {
			switch {
			case rolledBack[id]:
				t.Errorf("rolled-back event %s applied", id)
			case !committed[id]:
				t.Errorf("unknown event %s applied", id)
			case n != 1:
				t.Errorf("event %s applied %d times", id, n)
			}
		}
		info, err := b.JetStream().Stream(ctx, bus.StreamName(svc))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.CachedInfo().State.Msgs; got != uint64(len(committed)) {
			t.Errorf("stream holds %d messages, want %d (republished ones deduplicated)", got, len(committed))
		}
	}, sets...)
}

func TestWakeOnCommit(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		svc := bustest.Service(t, b)
		applied := make(chan string, 1)
		consume(t, b, db, svc, func(id string) { applied <- id })
		o := newOutbox(t, db, b, outbox.Options{PollInterval: time.Hour})
		startOutbox(t, o)
		time.Sleep(50 * time.Millisecond) // let the first pass find nothing and sleep

		ev := newEvent(t, svc, 1)
		start := time.Now()
		if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-applied:
			if id != ev.ID() {
				t.Fatalf("applied %s, want %s", id, ev.ID())
			}
			t.Logf("commit to applied: %v", time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatal("event not delivered within 5s with a 1h poll: the commit did not wake the relay")
		}
	}, sets...)
}

// TestPublishFailureKeepsRows: with no stream to take them, events stay in the
// outbox with their attempts recorded, and go out once the stream exists.
func TestPublishFailureKeepsRows(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		svc := bustest.ServiceName() // no stream yet
		o := newOutbox(t, db, b, outbox.Options{PollInterval: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		ev := newEvent(t, svc, 1)
		if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
		startOutbox(t, o)
		testenv.WaitFor(t, 20*time.Second, "failed attempts recorded", func() bool {
			var attempts int
			var lastErr *string
			err := db.SQL().QueryRowContext(ctx, `SELECT attempts, last_error FROM bam_outbox WHERE id = $1`, ev.ID()).Scan(&attempts, &lastErr)
			return err == nil && attempts >= 2 && lastErr != nil && *lastErr != ""
		})
		if pending, lag := gauges(t); pending != 1 || lag <= 0 {
			t.Errorf("bam_outbox_pending %v, bam_outbox_lag_seconds %v; want 1, > 0", pending, lag)
		}
		if err := b.EnsureStream(ctx, svc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.JetStream().DeleteStream(context.Background(), bus.StreamName(svc)) })
		testenv.WaitFor(t, 20*time.Second, "the event published once the stream exists", func() bool { return outboxLen(t, db) == 0 })
		testenv.WaitFor(t, 20*time.Second, "the gauges to drop to 0", func() bool { p, l := gauges(t); return p == 0 && l == 0 })
	}, sets...)
}

// gauges reads the outbox gauges of the test database ("test").
func gauges(t *testing.T) (pending, lag float64) {
	t.Helper()
	return testenv.Metric(t, "bam_outbox_pending", "db", "test"), testenv.Metric(t, "bam_outbox_lag_seconds", "db", "test")
}

// TestOneRelayAtATime: on PostgreSQL, while one replica relays (here a
// transaction holding the relay's lock and the first batch's rows, as a
// pass publishing them does), another publishes nothing; then every event
// of the transaction reaches the stream in order. Sharing the rows, the
// second replica used to publish the rows after the locked ones first.
func TestOneRelayAtATime(t *testing.T) {
	ctx := ctxT(t)
	b := bustest.Open(t, bustest.Embedded)
	db := storetest.Open(t, store.Postgres, sets...)
	svc := bustest.Service(t, b)
	o := newOutbox(t, db, b, outbox.Options{PollInterval: 20 * time.Millisecond, BatchSize: 100})
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		for i := range 150 {
			if err := o.Enqueue(ctx, tx, newEvent(t, svc, i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	relaying, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relaying.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.bam_outbox'))`); err != nil {
		t.Fatal(err)
	}
	if _, err := relaying.ExecContext(ctx, `SELECT seq FROM bam_outbox ORDER BY seq LIMIT 100 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	startOutbox(t, o)
	time.Sleep(300 * time.Millisecond) // fifteen polls
	if n := outboxLen(t, db); n != 150 {
		t.Fatalf("%d rows published while another replica relayed", 150-n)
	}
	_ = relaying.Rollback()
	testenv.WaitFor(t, 10*time.Second, "every row published", func() bool { return outboxLen(t, db) == 0 })

	cons, err := b.JetStream().OrderedConsumer(ctx, bus.StreamName(svc), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for want := range 150 {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := bus.Decode(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ I int }
		if err := json.Unmarshal(ev.Data(), &d); err != nil || d.I != want {
			t.Fatalf("event %d of the stream is %d (%v): out of order", want, d.I, err)
		}
	}
}

// TestLingerGathersATrickle: events committed one at a time, every 10 ms,
// go out a few to a pass, no more than one pass per Linger; with Linger
// off, about one pass each.
func TestLingerGathersATrickle(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		ctx := ctxT(t)
		svc := bustest.Service(t, b)
		for _, c := range []struct {
			linger     time.Duration
			most, less int // passes: at most, at least
		}{{linger: 150 * time.Millisecond, most: 6}, {linger: -1, less: 15}} {
			o := newOutbox(t, db, b, outbox.Options{PollInterval: time.Hour, Linger: c.linger})
			passes := outbox.CountPasses(o)
			startOutbox(t, o)
			const events = 30
			for i := range events {
				if err := db.InTx(ctx, func(tx *store.Tx) error { return o.Enqueue(ctx, tx, newEvent(t, svc, i)) }); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			testenv.WaitFor(t, 5*time.Second, "every event published", func() bool { return outboxLen(t, db) == 0 })
			n := passes()
			t.Logf("linger %v: %d events in %d passes", c.linger, events, n)
			if (c.most > 0 && n > c.most) || n < c.less {
				t.Errorf("linger %v: %d passes for %d events, want at most %d and at least %d", c.linger, n, events, c.most, c.less)
			}
			if err := o.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}, sets...)
}
