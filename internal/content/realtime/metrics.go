package realtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The hub's metrics, on the default registerer (once per process, shared by
// every Hub) so that the ops server's /metrics serves them.
var (
	connections = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_realtime_connections",
		Help: "Open realtime connections, by transport (sse, ws).",
	}, []string{"transport"})

	deliveries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "bam_realtime_deliveries_total",
		Help: "Changes written to realtime connections (one per connection per change).",
	})

	dropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_realtime_dropped_total",
		Help: "Changes not delivered, by reason: overflow (a connection's send queue was full; it is closed), " +
			"encode (the record could not be encoded), duplicate (a Seq already published).",
	}, []string{"reason"})

	refusedConnections = promauto.NewCounter(prometheus.CounterOpts{
		Name: "bam_realtime_connections_refused_total",
		Help: "Connections refused because their user (or anonymous address) had MaxConnectionsPerSubject open.",
	})

	matcherErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "bam_realtime_matcher_errors_total",
		Help: "Subscription matchers that failed or panicked (counted as no match).",
	})
)

// Resolved once: the hot path does no label lookup.
var (
	sseConnections   = connections.WithLabelValues(transportSSE)
	wsConnections    = connections.WithLabelValues(transportWS)
	droppedOverflow  = dropped.WithLabelValues("overflow")
	droppedEncode    = dropped.WithLabelValues("encode")
	droppedDuplicate = dropped.WithLabelValues("duplicate")
)

func connectionGauge(transport string) prometheus.Gauge {
	if transport == transportWS {
		return wsConnections
	}
	return sseConnections
}
