package bus

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// publishedTotal counts publishes by subject (event type: a bounded set) and
// result: ok, duplicate (dropped by JetStream dedup) or error.
var publishedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "bam_bus_published_total",
	Help: "Events published to JetStream, by subject and result (ok, duplicate, error).",
}, []string{"subject", "result"})
