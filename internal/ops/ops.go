// Package ops serves what operators and orchestrators ask of every bam
// process: /metrics for Prometheus, /healthz (the process is alive) and
// /readyz (every module it runs is ready to serve).
package ops

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bamhq/bam/internal/kernel"
)

// Readiness reports the readiness of a process's modules.
type Readiness func(ctx context.Context) []kernel.Status

// Handler returns the ops endpoints. version is reported by /healthz.
func Handler(ready Readiness, gatherer prometheus.Gatherer, version string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		statuses := ready(r.Context())
		body := struct {
			Ready   bool            `json:"ready"`
			Modules []kernel.Status `json:"modules"`
		}{kernel.Ready(statuses), statuses}
		status := http.StatusOK
		if !body.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, body)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
