package inbox

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Consume results, the result label of bam_bus_consumed_total.
const (
	resultOK         = "ok"          // handler applied and committed
	resultDuplicate  = "duplicate"   // already applied: acked, handler not run
	resultRetry      = "retry"       // handler failed: redelivered after a backoff
	resultDeadLetter = "dead_letter" // failed MaxDeliver times: dead-lettered
	resultMalformed  = "malformed"   // not a valid event: dead-lettered at once
)

var (
	consumedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_bus_consumed_total",
		Help: "Event deliveries handled by consumers, by consumer and result (ok, duplicate, retry, dead_letter, malformed).",
	}, []string{"consumer", "result"})
	consumeDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bam_bus_consume_duration_seconds",
		Help:    "Time to handle one delivery, transaction and ack included, by consumer.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"consumer"})
	deadLettersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_bus_dead_letters_total",
		Help: "Events written to bam_dead_letters, by consumer.",
	}, []string{"consumer"})
)
