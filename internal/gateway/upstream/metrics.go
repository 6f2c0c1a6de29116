package upstream

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The package's metrics, on the default registerer so that the ops
// server's /metrics serves them. Label values are bounded: upstream names
// come from configuration, targets from discovery, and a removed target's
// series are deleted.
var (
	requestsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_gateway_upstream_requests_total",
		Help: "Requests through an upstream pool, by upstream and result (ok, failed: a 502/503/504 answer, error, circuit_open).",
	}, []string{"upstream", "result"})

	retriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_gateway_upstream_retries_total",
		Help: "Retries on another replica, by upstream and reason (connect, broken, timeout, status).",
	}, []string{"upstream", "reason"})

	retriesDeniedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_gateway_upstream_retries_denied_total",
		Help: "Retries not made because the upstream's retry budget was spent.",
	}, []string{"upstream"})

	ejectionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_gateway_upstream_ejections_total",
		Help: "Replicas ejected after consecutive failures, by upstream.",
	}, []string{"upstream"})

	replicasGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_gateway_upstream_replicas",
		Help: "Replicas of an upstream, by state (healthy: passing checks and not ejected; unhealthy; ejected).",
	}, []string{"upstream", "state"})

	breakerGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_gateway_upstream_breaker_state",
		Help: "An upstream's circuit breaker: 0 closed, 1 half-open, 2 open.",
	}, []string{"upstream"})

	inFlightGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_gateway_upstream_in_flight",
		Help: "Requests in flight to each replica (until the response body is closed).",
	}, []string{"upstream", "target"})
)

// poolMetrics holds a pool's series, resolved once: RoundTrip must not pay
// for label lookups.
type poolMetrics struct {
	ok, failed, errored, circuitOpen prometheus.Counter
	retries                          [canceled]prometheus.Counter // by failure
	retriesDenied, ejections         prometheus.Counter
	healthy, unhealthy, ejected      prometheus.Gauge
	breaker                          prometheus.Gauge
}

func newPoolMetrics(name string) *poolMetrics {
	m := &poolMetrics{
		ok:            requestsTotal.WithLabelValues(name, "ok"),
		failed:        requestsTotal.WithLabelValues(name, "failed"),
		errored:       requestsTotal.WithLabelValues(name, "error"),
		circuitOpen:   requestsTotal.WithLabelValues(name, "circuit_open"),
		retriesDenied: retriesDeniedTotal.WithLabelValues(name),
		ejections:     ejectionsTotal.WithLabelValues(name),
		healthy:       replicasGauge.WithLabelValues(name, "healthy"),
		unhealthy:     replicasGauge.WithLabelValues(name, "unhealthy"),
		ejected:       replicasGauge.WithLabelValues(name, "ejected"),
		breaker:       breakerGauge.WithLabelValues(name),
	}
	for f := dial; f < canceled; f++ {
		m.retries[f] = retriesTotal.WithLabelValues(name, f.String())
	}
	return m
}

// refreshGauges recounts the replica states; called on every change the
// pool sees and after each round of health checks (ejections run out
// without an event).
func (p *Pool) refreshGauges() {
	now := p.now()
	var healthy, unhealthy, ejected int
	for _, t := range *p.targets.Load() {
		switch {
		case !t.healthy.Load():
			unhealthy++
		case !t.available(now):
			ejected++
		default:
			healthy++
		}
	}
	p.metrics.healthy.Set(float64(healthy))
	p.metrics.unhealthy.Set(float64(unhealthy))
	p.metrics.ejected.Set(float64(ejected))
	p.metrics.breaker.Set(float64(p.breaker.current()))
}

// forget deletes a pool's or a removed target's series.
func forgetTarget(pool, raw string) { inFlightGauge.DeleteLabelValues(pool, raw) }

func forgetPool(name string) {
	for _, s := range []string{"healthy", "unhealthy", "ejected"} {
		replicasGauge.DeleteLabelValues(name, s)
	}
	breakerGauge.DeleteLabelValues(name)
}
