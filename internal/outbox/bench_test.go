package outbox_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// BenchmarkPipeline measures outbox → JetStream → inbox consumer: b.N events,
// each enqueued in its own transaction on the producer's database, applied by
// a consumer on its own database. Latency is from the enqueueing commit to the
// consumer's commit. Run with a fixed count, e.g. -benchtime=2000x.
//
// "saturated" enqueues as fast as one goroutine can commit: events/s is the
// pipeline's throughput and the latency includes the queue that builds up.
// "paced" enqueues one event every 2ms (at most 500/s), below saturation:
// its latency is the pipeline's own.
func BenchmarkPipeline(b *testing.B) {
	for _, load := range []struct {
		name  string
		every time.Duration
	}{{"saturated", 0}, {"paced", 2 * time.Millisecond}} {
		for _, kind := range []string{bustest.Embedded, bustest.External} {
			for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
				b.Run(load.name+"/"+kind+"/"+string(d), func(b *testing.B) { benchPipeline(b, kind, d, load.every) })
			}
		}
	}
}

func benchPipeline(b *testing.B, kind string, d store.Dialect, every time.Duration) {
	bs := bustest.Open(b, kind)
	prod := storetest.Open(b, d, outbox.Migrations)
	cons := storetest.Open(b, d, inbox.Migrations, bustest.Effects)
	svc := bustest.Service(b, bs)
	ctx := ctxT(b)

	var (
		committed sync.Map // event id → commit time
		mu        sync.Mutex
		lat       = make([]time.Duration, 0, b.N)
		seen      int
		done      = make(chan struct{})
	)
	consume(b, bs, cons, svc, func(id string) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if t0, ok := committed.Load(id); ok {
			lat = append(lat, now.Sub(t0.(time.Time)))
		}
		if seen++; seen == b.N {
			close(done)
		}
	})
	o := newOutbox(b, prod, bs, outbox.Options{})
	startOutbox(b, o)

	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(max(every, time.Nanosecond))
	defer tick.Stop()
	for i := range b.N {
		if every > 0 {
			<-tick.C
		}
		ev := newEvent(b, svc, i)
		id := ev.ID()
		err := prod.InTx(ctx, func(tx *store.Tx) error {
			// Registered before Enqueue's wake, so it runs first.
			tx.OnCommit(func() { committed.Store(id, time.Now()) })
			return o.Enqueue(ctx, tx, ev)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	enqueued := time.Since(start)
	var backlog int
	_ = prod.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bam_outbox`).Scan(&backlog)
	mu.Lock()
	applied := seen
	mu.Unlock()
	b.Logf("%d events enqueued in %v; then %d still in the outbox, %d applied", b.N, enqueued, backlog, applied)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d events applied after 2 minutes", seen, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(ms(lat[len(lat)*50/100]), "p50_ms")
	b.ReportMetric(ms(lat[min(len(lat)*99/100, len(lat)-1)]), "p99_ms")
	b.ReportMetric(0, "ns/op") // events/s says it better
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
