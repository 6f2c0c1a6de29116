package httpx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The HTTP server metrics, on the default registerer so that the ops
// server's /metrics serves them. route is the ServeMux pattern ("unmatched"
// when none matched) and method is folded to the standard methods, so that
// no client can grow the label sets.
var (
	requestsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_http_requests_total",
		Help: "HTTP requests served, by service, route pattern, method and status.",
	}, []string{"service", "route", "method", "status"})

	requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bam_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests (until the handler returns), by service, route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"service", "route", "method"})

	requestsInFlight = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bam_http_requests_in_flight",
		Help: "HTTP requests being served.",
	}, []string{"service"})
)

// Metrics records bam_http_requests_total, bam_http_request_duration_seconds
// and bam_http_requests_in_flight for service. A request whose handler
// panicked through (an aborted response) counts with the status it had
// written, or 500.
func Metrics(service string) func(http.Handler) http.Handler {
	inFlight := requestsInFlight.WithLabelValues(service)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			inFlight.Inc()
			w, r2, x := observe(w, r)
			panicked := true
			defer func() {
				inFlight.Dec()
				status := x.finalStatus()
				if panicked && x.status == 0 {
					status = http.StatusInternalServerError
				}
				route, method := x.route(), metricMethod(r.Method)
				requestsTotal.WithLabelValues(service, route, method, strconv.Itoa(status)).Inc()
				requestDuration.WithLabelValues(service, route, method).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(w, r2)
			x.served(r2)
			panicked = false
		})
	}
}

// metricMethod folds non-standard methods into "OTHER".
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}
