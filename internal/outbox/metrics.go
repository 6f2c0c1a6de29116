package outbox

import (
	"context"
	"time"

	"github.com/bamhq/bam/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	pendingGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_outbox_pending",
		Help: "Events committed to the outbox and not yet published, by database.",
	}, []string{"db"})
	lagGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_outbox_lag_seconds",
		Help: "Age of the oldest unpublished outbox event, by database; 0 when empty.",
	}, []string{"db"})
)

type relayMetrics struct {
	pending, lag prometheus.Gauge
	last         *time.Time // last query; the relay goroutine alone touches it
}

func newRelayMetrics(db string) relayMetrics {
	return relayMetrics{pending: pendingGauge.WithLabelValues(db), lag: lagGauge.WithLabelValues(db), last: new(time.Time)}
}

// update refreshes the gauges after a relay pass that claimed some rows. A
// pass that found none means an empty outbox, no query needed; otherwise the
// gauges are queried at most once a second, so under load they cost nothing
// and at worst lag one poll interval. Failures only leave the previous
// values: metrics are not worth an error.
func (m relayMetrics) update(ctx context.Context, db *store.DB, claimed int) {
	if claimed == 0 {
		m.pending.Set(0)
		m.lag.Set(0)
		return
	}
	if time.Since(*m.last) < time.Second {
		return
	}
	*m.last = time.Now()
	var n int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bam_outbox`).Scan(&n); err != nil {
		return
	}
	m.pending.Set(float64(n))
	if n == 0 {
		m.lag.Set(0)
		return
	}
	var oldest time.Time
	if err := db.SQL().QueryRowContext(ctx, `SELECT created_at FROM bam_outbox ORDER BY seq LIMIT 1`).Scan(&oldest); err != nil {
		return
	}
	m.lag.Set(max(time.Since(oldest).Seconds(), 0))
}
