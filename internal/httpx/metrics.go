package httpx

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

// serverMetrics records bam_http_requests_total,
// bam_http_request_duration_seconds and bam_http_requests_in_flight for one
// service. Each series is resolved once, the first time its labels occur,
// and found again without allocating: a label lookup in a vector costs a
// hash of every label and the variadic slice for each request.
type serverMetrics struct {
	service  string
	inFlight prometheus.Gauge
	routes   sync.Map // route pattern → *routeSeries
}

func newServerMetrics(service string) *serverMetrics {
	return &serverMetrics{service: service, inFlight: requestsInFlight.WithLabelValues(service)}
}

// ServerMetrics records the HTTP server metrics of one service for a
// server that does not go through Stack (the gateway's fast lane), into
// the same series.
type ServerMetrics struct{ m *serverMetrics }

// NewServerMetrics returns service's recorder.
func NewServerMetrics(service string) ServerMetrics { return ServerMetrics{newServerMetrics(service)} }

// Begin counts a request in flight; End counts it served by route, with
// method, status and the time since start.
func (s ServerMetrics) Begin() { s.m.inFlight.Inc() }

// End: see Begin.
func (s ServerMetrics) End(route, method string, status int, start time.Time) {
	s.m.inFlight.Dec()
	s.m.record(route, method, status, time.Since(start))
}

// routeSeries are one route's series, by method (see methodIndex).
type routeSeries struct {
	route    string
	duration [len(metricMethods)]atomic.Pointer[prometheus.Observer]
	statuses [len(metricMethods)]atomic.Pointer[[]statusCounter] // copy on write
	mu       sync.Mutex                                          // serializes the writers of statuses
}

type statusCounter struct {
	status  int
	counter prometheus.Counter
}

// record counts one finished request.
func (m *serverMetrics) record(route, method string, status int, took time.Duration) {
	s := m.route(route)
	i := methodIndex(method)
	s.observer(m.service, i).Observe(took.Seconds())
	s.counter(m.service, i, status).Inc()
}

func (m *serverMetrics) route(route string) *routeSeries {
	if s, ok := m.routes.Load(route); ok {
		return s.(*routeSeries)
	}
	s, _ := m.routes.LoadOrStore(route, &routeSeries{route: route})
	return s.(*routeSeries)
}

func (s *routeSeries) observer(service string, i int) prometheus.Observer {
	if o := s.duration[i].Load(); o != nil {
		return *o
	}
	o := requestDuration.WithLabelValues(service, s.route, metricMethods[i])
	s.duration[i].Store(&o)
	return o
}

func (s *routeSeries) counter(service string, i, status int) prometheus.Counter {
	if list := s.statuses[i].Load(); list != nil {
		for _, c := range *list {
			if c.status == status {
				return c.counter
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []statusCounter
	if p := s.statuses[i].Load(); p != nil {
		list = *p
	}
	for _, c := range list {
		if c.status == status {
			return c.counter
		}
	}
	c := requestsTotal.WithLabelValues(service, s.route, metricMethods[i], strconv.Itoa(status))
	next := append(list[:len(list):len(list)], statusCounter{status, c})
	s.statuses[i].Store(&next)
	return c
}

// metricMethods are the method label's values; non-standard methods fold
// into "OTHER".
var metricMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "OTHER",
}

func methodIndex(m string) int {
	for i, v := range metricMethods[:len(metricMethods)-1] {
		if m == v {
			return i
		}
	}
	return len(metricMethods) - 1
}
