package inbox_test

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
	"github.com/nats-io/nats.go"
)

func TestAppliesOnceAndDropsDuplicates(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		var calls atomic.Int32
		start(t, &inbox.Consumer{Service: svc, DB: db, Bus: b, Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
			calls.Add(1)
			return applyFx(ctx, tx, ev)
		}})
		ev := publish(t, b, svc)
		testenv.WaitFor(t, 15*time.Second, "the effect", func() bool { return fxCount(t, db, ev.ID()) == 1 })

		// The same event again under another Nats-Msg-Id: what arrives when
		// an outbox row is republished after the dedup window.
		m, err := bus.NewMessage(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		m.ID += "-late"
		if err := b.PublishBatch(ctxT(t), []bus.Message{m})[0]; err != nil {
			t.Fatal(err)
		}
		acked(t, b, svc, "fx")
		if n := fxCount(t, db, ev.ID()); n != 1 || calls.Load() != 1 {
			t.Errorf("effect applied %d times, handler called %d times; want 1, 1", n, calls.Load())
		}
	})
}

func TestRetriesFailedEffectOnce(t *testing.T) {
	for name, fail := range map[string]func() error{
		"error": func() error { return errBoom },
		"panic": func() error { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
				svc := bustest.Service(t, b)
				var calls atomic.Int32
				start(t, &inbox.Consumer{Service: svc, DB: db, Bus: b, Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
					// The effect is written, then the handler dies: it
					// must roll back with the inbox row.
					if err := applyFx(ctx, tx, ev); err != nil {
						return err
					}
					if calls.Add(1) == 1 {
						return fail()
					}
					return nil
				}})
				ev := publish(t, b, svc)
				testenv.WaitFor(t, 15*time.Second, "the retried effect", func() bool { return fxCount(t, db, ev.ID()) == 1 })
				acked(t, b, svc, "fx")
				if n := fxCount(t, db, ev.ID()); n != 1 || calls.Load() != 2 {
					t.Errorf("effect applied %d times in %d calls; want once in 2", n, calls.Load())
				}
			})
		})
	}
}

func TestDeadLetterAfterMaxDeliver(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		var calls atomic.Int32
		start(t, &inbox.Consumer{Service: svc, DB: db, Bus: b, MaxDeliver: 3, Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
			calls.Add(1)
			if err := applyFx(ctx, tx, ev); err != nil {
				return err
			}
			return errBoom
		}})
		ev := publish(t, b, svc)
		dl := waitDeadLetter(t, db, ev.ID())
		if dl.deliveries != 3 || !strings.Contains(dl.err, "boom") || dl.subject != ev.Type() {
			t.Errorf("dead letter %+v: want 3 deliveries, error boom, subject %s", dl, ev.Type())
		}
		if got, err := bus.Decode(dl.payload); err != nil || got.ID() != ev.ID() {
			t.Errorf("dead letter payload: %v, %v", got, err)
		}
		acked(t, b, svc, "fx")
		time.Sleep(100 * time.Millisecond) // five backoffs: a redelivery would show
		if calls.Load() != 3 || fxCount(t, db, ev.ID()) != 0 {
			t.Errorf("handler called %d times, effect %d; want 3, 0", calls.Load(), fxCount(t, db, ev.ID()))
		}
	})
}

func TestMalformedDeadLetteredAtOnce(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		var calls atomic.Int32
		start(t, &inbox.Consumer{Service: svc, DB: db, Bus: b, Handler: func(context.Context, *store.Tx, bus.Event) error {
			calls.Add(1)
			return nil
		}})
		msg := &nats.Msg{Subject: "bam." + svc + ".user.created", Data: []byte(`{"not":"an event"}`), Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, "garbage-1")
		if _, err := b.JetStream().PublishMsg(ctxT(t), msg); err != nil {
			t.Fatal(err)
		}
		dl := waitDeadLetter(t, db, "garbage-1")
		if dl.deliveries != 1 || !strings.Contains(dl.err, "malformed") || calls.Load() != 0 {
			t.Errorf("dead letter %+v after %d calls: want 1 delivery, malformed, no call", dl, calls.Load())
		}
		acked(t, b, svc, "fx")
	})
}

func TestStopWaitsForInFlight(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		entered, release := make(chan struct{}), make(chan struct{})
		c := &inbox.Consumer{Name: "slow", Service: svc, DB: db, Bus: b, Logger: bustest.Logger(),
			Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
				close(entered)
				<-release
				return applyFx(ctx, tx, ev)
			}}
		if err := c.Start(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ev := publish(t, b, svc)
		<-entered
		stopped := make(chan error)
		go func() { stopped <- c.Stop(ctxT(t)) }()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while a handler ran", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if n := fxCount(t, db, ev.ID()); n != 1 {
			t.Errorf("effect applied %d times, want 1", n)
		}
	})
}

type deadLetter struct {
	subject, err string
	payload      []byte
	deliveries   int
}

func waitDeadLetter(t *testing.T, db *store.DB, eventID string) deadLetter {
	t.Helper()
	var dl deadLetter
	testenv.WaitFor(t, 15*time.Second, "dead letter "+eventID, func() bool {
		err := db.SQL().QueryRowContext(t.Context(),
			`SELECT subject, error, payload, deliveries FROM bam_dead_letters WHERE consumer = 'fx' AND event_id = $1`, eventID).
			Scan(&dl.subject, &dl.err, &dl.payload, &dl.deliveries)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return err == nil
	})
	return dl
}

func TestSubjectFilter(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		start(t, &inbox.Consumer{Service: svc, Subjects: []string{"bam." + svc + ".user.deleted"}, DB: db, Bus: b, Handler: applyFx})
		created := publish(t, b, svc)
		deleted, err := bus.NewEvent(svc, "bam."+svc+".user.deleted", "u1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctxT(t), deleted); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 15*time.Second, "the deleted event", func() bool { return fxCount(t, db, deleted.ID()) == 1 })
		acked(t, b, svc, "fx")
		if n := fxCount(t, db, created.ID()); n != 0 {
			t.Errorf("filtered-out event applied %d times", n)
		}
	})
}

// TestConsumerComesBack: a durable consumer deleted under a running
// Consumer (an operator's mistake, a stream recreated) is made again, and
// the events published since are applied; Stop still stops it.
func TestConsumerComesBack(t *testing.T) {
	b := bustest.Open(t, bustest.Embedded)
	db := storetest.Open(t, store.SQLite, inbox.Migrations, bustest.Effects)
	svc := bustest.Service(t, b)
	c := &inbox.Consumer{Service: svc, DB: db, Bus: b, Handler: applyFx}
	start(t, c)
	first := publish(t, b, svc)
	testenv.WaitFor(t, 10*time.Second, "the first event applied", func() bool { return fxCount(t, db, first.ID()) == 1 })
	if err := b.JetStream().DeleteConsumer(t.Context(), bus.StreamName(svc), "fx"); err != nil {
		t.Fatal(err)
	}
	second := publish(t, b, svc)
	testenv.WaitFor(t, 10*time.Second, "the event published after the deletion applied",
		func() bool { return fxCount(t, db, second.ID()) == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestUnavailableIsNeverDeadLettered: a failure that says nothing against
// the event (the database unavailable) is retried past MaxDeliver, and the
// event is applied once the database answers, not dead-lettered.
func TestUnavailableIsNeverDeadLettered(t *testing.T) {
	runEnv(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		svc := bustest.Service(t, b)
		var calls atomic.Int32
		start(t, &inbox.Consumer{Service: svc, DB: db, Bus: b, MaxDeliver: 2, Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
			if calls.Add(1) <= 4 {
				return errs.E(errs.Unavailable, "test.down", "the database is away")
			}
			return applyFx(ctx, tx, ev)
		}})
		ev := publish(t, b, svc)
		testenv.WaitFor(t, 10*time.Second, "applied after four unavailable tries", func() bool { return fxCount(t, db, ev.ID()) == 1 })
		var n int
		if err := db.SQL().QueryRowContext(t.Context(), `SELECT count(*) FROM bam_dead_letters WHERE event_id = $1`, ev.ID()).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d dead letters (%v), want none", n, err)
		}
	})
}
