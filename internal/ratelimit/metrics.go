package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Backend names, as reported by Fallback.Backend and in metric labels.
const (
	backendLocal = "local"
	backendRedis = "redis"
)

// The rate limiter's metrics, on the default registerer so that the ops
// server's /metrics serves them.
var (
	decisionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_ratelimit_decisions_total",
		Help: "Rate limit decisions, by backend (local, redis) and result (allowed, denied).",
	}, []string{"backend", "result"})

	backendGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_ratelimit_backend",
		Help: "1 for the backend the fallback rate limiter is using (redis or local), 0 for the other.",
	}, []string{"backend"})

	fallbacksTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "bam_ratelimit_fallbacks_total",
		Help: "Times the rate limiter fell back from Redis to local limits because Redis failed.",
	})

	redisErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "bam_ratelimit_redis_errors_total",
		Help: "Rate limit decisions whose Redis call failed or timed out (each then made locally).",
	})

	redisDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "bam_ratelimit_redis_duration_seconds",
		Help:    "Round trip of the rate limit script to Redis, failures included.",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1},
	})
)

// The decision counters, resolved once: the hot path does no label lookup.
var (
	localAllowed = decisionsTotal.WithLabelValues(backendLocal, "allowed")
	localDenied  = decisionsTotal.WithLabelValues(backendLocal, "denied")
	redisAllowed = decisionsTotal.WithLabelValues(backendRedis, "allowed")
	redisDenied  = decisionsTotal.WithLabelValues(backendRedis, "denied")
)

func countDecision(backend string, allowed bool) {
	switch {
	case backend == backendLocal && allowed:
		localAllowed.Inc()
	case backend == backendLocal:
		localDenied.Inc()
	case allowed:
		redisAllowed.Inc()
	default:
		redisDenied.Inc()
	}
}

// setBackendGauge marks backend as the one in use.
func setBackendGauge(backend string) {
	redisOn := 0.0
	if backend == backendRedis {
		redisOn = 1
	}
	backendGauge.WithLabelValues(backendRedis).Set(redisOn)
	backendGauge.WithLabelValues(backendLocal).Set(1 - redisOn)
}
