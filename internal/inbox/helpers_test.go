package inbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runEnv(t *testing.T, fn func(t *testing.T, b *bus.Bus, db *store.DB)) {
	bustest.RunWithDB(t, fn, inbox.Migrations, bustest.Effects)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// applyFx is the effect every test handler applies.
func applyFx(ctx context.Context, tx *store.Tx, ev bus.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO fx (event_id) VALUES ($1)`, ev.ID())
	return err
}

func fxCount(t *testing.T, db *store.DB, id string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM fx WHERE event_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// start starts c with fast retries and stops it when t ends.
func start(t *testing.T, c *inbox.Consumer) {
	t.Helper()
	if c.Name == "" {
		c.Name = "fx"
	}
	if c.Backoff == nil {
		c.Backoff = []time.Duration{20 * time.Millisecond}
	}
	c.Logger = bustest.Logger()
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// acked waits until the durable consumer has acked (or terminated) every
// message of the stream.
func acked(t *testing.T, b *bus.Bus, svc, name string) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, "consumer "+name+" to settle every message", func() bool {
		cons, err := b.JetStream().Consumer(t.Context(), bus.StreamName(svc), name)
		if err != nil {
			return false
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	})
}

func publish(t *testing.T, b *bus.Bus, svc string) bus.Event {
	t.Helper()
	ev, err := bus.NewEvent(svc, "bam."+svc+".user.created", "u1", map[string]string{"id": "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctxT(t), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

var errBoom = errors.New("boom")
