package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sets = []store.MigrationSet{outbox.Migrations, inbox.Migrations, bustest.Effects}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newOutbox(t testing.TB, db *store.DB, b *bus.Bus, opts outbox.Options) *outbox.Outbox {
	opts.Logger = bustest.Logger()
	return outbox.New(db, b, opts)
}

func startOutbox(t testing.TB, o *outbox.Outbox) {
	t.Helper()
	if err := o.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop(context.Background()) })
}

// consume starts a consumer on db that writes one fx row per applied event,
// calling onCommit after each applied event commits.
func consume(t testing.TB, b *bus.Bus, db *store.DB, svc string, onCommit func(id string)) {
	t.Helper()
	c := &inbox.Consumer{Name: "fx", Service: svc, DB: db, Bus: b, Logger: bustest.Logger(),
		Backoff: []time.Duration{20 * time.Millisecond},
		Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
			if onCommit != nil {
				id := ev.ID()
				tx.OnCommit(func() { onCommit(id) })
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO fx (event_id) VALUES ($1)`, ev.ID())
			return err
		}}
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
}

func newEvent(t testing.TB, svc string, i int) bus.Event {
	ev, err := bus.NewEvent(svc, "bam."+svc+".thing.created", "", map[string]any{"i": i, "at": time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// effects returns how many times each event id was applied.
func effects(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT event_id, COUNT(*) FROM fx GROUP BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

func outboxLen(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM bam_outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
