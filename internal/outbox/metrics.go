package outbox

import (
	"context"
	"database/sql"
	"errors"
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
		Help: "Age of the oldest unpublished outbox event that is not parked, by database; 0 when none.",
	}, []string{"db"})
	parkedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_outbox_parked",
		Help: "Outbox events parked after failing while others were published (tried again every few minutes), by database.",
	}, []string{"db"})
)

type relayMetrics struct {
	pending, lag, parked prometheus.Gauge
	last                 *time.Time // last query; the relay goroutine alone touches it
	parkedRows           *int64     // last count of parked rows; the relay goroutine's too
}

func newRelayMetrics(db string) relayMetrics {
	return relayMetrics{pending: pendingGauge.WithLabelValues(db), lag: lagGauge.WithLabelValues(db),
		parked: parkedGauge.WithLabelValues(db), last: new(time.Time), parkedRows: new(int64)}
}

// countParked recounts the parked rows: at start, when a pass parked some,
// and after each retry of the parked rows (also when it found none: others
// may have taken them). update counts them too. A failure leaves the
// previous count.
func (m relayMetrics) countParked(ctx context.Context, db *store.DB) {
	var n int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bam_outbox WHERE parked_at IS NOT NULL`).Scan(&n); err != nil {
		return
	}
	*m.parkedRows = n
	m.parked.Set(float64(n))
}

// update refreshes the gauges after a relay pass that claimed some rows;
// rows up to cursor that are not parked are published, waiting to be
// deleted (sentRows), and not counted. A pass that found none means
// nothing is pending but the parked rows, no query needed; otherwise the
// gauges are queried at most once a second, so under load they cost nothing
// and at worst lag one poll interval. Failures only leave the previous
// values: metrics are not worth an error.
func (m relayMetrics) update(ctx context.Context, db *store.DB, claimed int, cursor int64) {
	if claimed == 0 { // nothing pending but the parked rows last counted
		m.pending.Set(float64(*m.parkedRows))
		m.lag.Set(0)
		return
	}
	if time.Since(*m.last) < time.Second {
		return
	}
	*m.last = time.Now()
	var n, parked int64
	if err := db.SQL().QueryRowContext(ctx,
		`SELECT COUNT(*), COUNT(parked_at) FROM bam_outbox WHERE seq > $1 OR parked_at IS NOT NULL`, cursor).Scan(&n, &parked); err != nil {
		return
	}
	m.pending.Set(float64(n))
	*m.parkedRows = parked
	m.parked.Set(float64(parked))
	if n == parked {
		m.lag.Set(0)
		return
	}
	var oldest time.Time
	if err := db.SQL().QueryRowContext(ctx,
		`SELECT created_at FROM bam_outbox WHERE parked_at IS NULL AND seq > $1 ORDER BY seq LIMIT 1`, cursor).Scan(&oldest); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			m.lag.Set(0) // every row is parked
		}
		return
	}
	m.lag.Set(max(time.Since(oldest).Seconds(), 0))
}
