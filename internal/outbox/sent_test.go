package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// sqliteRelay is an outbox on a SQLite database and an embedded bus with
// a stream for service svc.
type sqliteRelay struct {
	db  *store.DB
	bus *bus.Bus
	svc string
	o   *outbox.Outbox // with the options given, not started
}

// newSQLiteRelay opens a sqliteRelay with opts.
func newSQLiteRelay(t *testing.T, opts outbox.Options) sqliteRelay {
	t.Helper()
	b := bustest.Open(t, bustest.Embedded)
	db := storetest.Open(t, store.SQLite, sets...)
	return sqliteRelay{db: db, bus: b, svc: bustest.Service(t, b), o: newOutbox(t, db, b, opts)}
}

// enqueue adds event i in a transaction of its own.
func (r sqliteRelay) enqueue(t *testing.T, i int) bus.Event {
	t.Helper()
	ctx := ctxT(t)
	ev := newEvent(t, r.svc, i)
	if err := r.db.InTx(ctx, func(tx *store.Tx) error { return r.o.Enqueue(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestPublishedRowsGoWithTheNextWrite: on SQLite a pass that publishes
// its rows leaves them (no write transaction of the relay's own); the next
// transaction that adds to the outbox deletes them, and Stop deletes what
// is left. Meanwhile they count as published, not pending.
func TestPublishedRowsGoWithTheNextWrite(t *testing.T) {
	r := newSQLiteRelay(t, outbox.Options{PollInterval: time.Hour, DeleteDelay: time.Hour, KeepPublished: -1})
	db, o := r.db, r.o
	for i := range 5 {
		r.enqueue(t, i)
	}
	startOutbox(t, o)
	testenv.WaitFor(t, 10*time.Second, "the five rows published", func() bool { return outbox.PublishedThrough(o) == 5 })
	time.Sleep(50 * time.Millisecond) // room for a delete, were the relay to make one, and for its gauges
	if n := outboxLen(t, db); n != 5 {
		t.Fatalf("%d rows after the pass, want its 5 published rows kept for the next write", n)
	}
	if pending, lag := gauges(t); pending != 0 || lag != 0 {
		t.Errorf("bam_outbox_pending %v, bam_outbox_lag_seconds %v; want 0, 0 (the rows are published)", pending, lag)
	}

	last := r.enqueue(t, 5)
	if n := outboxLen(t, db); n != 1 {
		t.Fatalf("%d rows after the next write, want 1: its own", n)
	}
	var id string
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT id FROM bam_outbox`).Scan(&id); err != nil || id != last.ID() {
		t.Fatalf("the row left is %q (%v), want the last event's %s", id, err, last.ID())
	}
	testenv.WaitFor(t, 10*time.Second, "the last event published", func() bool { return outbox.PublishedThrough(o) == 6 })
	if err := o.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := outboxLen(t, db); n != 0 {
		t.Errorf("%d rows after Stop, want 0: a stopping relay deletes what it published", n)
	}
}

// TestPublishedRowsGoWhenQuiet: with no write to carry the delete, the
// relay deletes the rows it published itself, DeleteDelay after its pass.
func TestPublishedRowsGoWhenQuiet(t *testing.T) {
	const delay = time.Second
	r := newSQLiteRelay(t, outbox.Options{PollInterval: time.Hour, DeleteDelay: delay, KeepPublished: -1})
	db, o := r.db, r.o
	for i := range 3 {
		r.enqueue(t, i)
	}
	startOutbox(t, o) // one pass, and no write after it
	testenv.WaitFor(t, 10*time.Second, "the events published", func() bool { return outbox.PublishedThrough(o) == 3 })
	published := time.Now()
	if n := outboxLen(t, db); n != 3 && time.Since(published) < delay {
		t.Fatalf("%d rows right after the pass, want its 3 published rows kept for DeleteDelay", n)
	}
	testenv.WaitFor(t, 10*time.Second, "the published rows deleted", func() bool { return outboxLen(t, db) == 0 })
}

// TestPublishedRowsKeptUntilFlushed: a published row outlives
// KeepPublished — the time the bus may hold an acknowledged event before
// it reaches the disk — so a write soon after the pass leaves it and one
// after that deletes it. On the embedded server the default is twice its
// flush interval.
func TestPublishedRowsKeptUntilFlushed(t *testing.T) {
	const keep = time.Second
	r := newSQLiteRelay(t, outbox.Options{PollInterval: time.Hour, DeleteDelay: time.Hour, KeepPublished: keep})
	db, o := r.db, r.o
	startOutbox(t, o)
	r.enqueue(t, 0)
	testenv.WaitFor(t, 10*time.Second, "the first row published", func() bool { return outbox.PublishedThrough(o) == 1 })
	published := time.Now() // after the relay noted the row: it is older than this
	time.Sleep(keep / 2)
	r.enqueue(t, 1) // the first row is kept
	if n := outboxLen(t, db); n != 2 && time.Since(published) < keep {
		t.Fatalf("%d rows after a write within KeepPublished of the pass, want 2: the published one is kept", n)
	}
	testenv.WaitFor(t, 10*time.Second, "the second row published", func() bool { return outbox.PublishedThrough(o) == 2 })
	time.Sleep(time.Until(published.Add(keep + keep/10)))
	r.enqueue(t, 2) // the first row is due now, the second not yet
	if n := outboxLen(t, db); n != 2 {
		t.Fatalf("%d rows after a write past KeepPublished, want 2: the first one deleted", n)
	}

	defaults := newOutbox(t, db, r.bus, outbox.Options{})
	if got, want := outbox.KeepPublishedOf(defaults), 2*bus.EmbeddedSyncInterval; got != want {
		t.Errorf("KeepPublished on the embedded server %v, want %v", got, want)
	}
}

// TestPublishedRowsRepublishedAfterARestart: rows published but still
// kept (KeepPublished) when the relay stops — or dies — go out again from
// the next one, and the stream keeps each event once (JetStream's
// duplicate window).
func TestPublishedRowsRepublishedAfterARestart(t *testing.T) {
	ctx := ctxT(t)
	r := newSQLiteRelay(t, outbox.Options{PollInterval: time.Hour, DeleteDelay: time.Hour, KeepPublished: time.Hour})
	db, b, first := r.db, r.bus, r.o
	const events = 20
	for i := range events {
		r.enqueue(t, i)
	}
	startOutbox(t, first)
	testenv.WaitFor(t, 10*time.Second, "the rows published", func() bool { return outbox.PublishedThrough(first) == events })
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxLen(t, db); n != events {
		t.Fatalf("%d rows after the relay stopped, want all %d (published, kept)", n, events)
	}

	second := newOutbox(t, db, b, outbox.Options{PollInterval: time.Hour, DeleteDelay: 50 * time.Millisecond, KeepPublished: -1})
	again := outbox.CountPasses(second)
	startOutbox(t, second)
	testenv.WaitFor(t, 10*time.Second, "the rows published again and deleted", func() bool {
		return again() >= 1 && outboxLen(t, db) == 0
	})
	info, err := b.JetStream().Stream(ctx, bus.StreamName(r.svc))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != events {
		t.Errorf("stream holds %d messages, want %d (republished ones deduplicated)", got, events)
	}
}

// TestPublishedBacklogDeletedInSlices: a backlog published while no write
// came is deleted a slice at a time (ten passes' worth per statement),
// to the last row.
func TestPublishedBacklogDeletedInSlices(t *testing.T) {
	// DeleteDelay an hour: the relay leaves the deletes to the test.
	r := newSQLiteRelay(t, outbox.Options{PollInterval: time.Hour, BatchSize: 2, DeleteDelay: time.Hour, KeepPublished: -1})
	db, o := r.db, r.o
	const events = 55 // 28 passes, deleted 20 rows at a time
	for i := range events {
		r.enqueue(t, i)
	}
	startOutbox(t, o)
	testenv.WaitFor(t, 20*time.Second, "every row published", func() bool { return outbox.PublishedThrough(o) == events })
	for _, left := range []int{35, 15, 0} {
		if !outbox.SettleOnce(o) {
			t.Fatalf("no delete with %d rows left to delete", outboxLen(t, db))
		}
		if n := outboxLen(t, db); n != left {
			t.Fatalf("%d rows after a delete, want %d (20 a statement)", n, left)
		}
	}
	if outbox.SettleOnce(o) {
		t.Error("a delete with nothing left to delete")
	}
}
