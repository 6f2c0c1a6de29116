package httpx

import (
	"log/slog"
	"net/http"
	"time"
)

// AccessLog writes one line per request to logger: method, route, path (never
// the query, which may hold tokens), status, bytes and duration. The
// request_id and trace_id come from the context through the logger's
// handler. Server errors log at Error level, the rest at Info.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			w, r2, x := observe(w, r)
			panicked := true
			defer func() {
				status := x.finalStatus()
				if panicked && x.status == 0 {
					status = http.StatusInternalServerError
				}
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				logger.LogAttrs(r2.Context(), level, "http request",
					slog.String("method", r.Method),
					slog.String("route", x.route()),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", x.bytes),
					slog.Duration("duration", time.Since(start)),
				)
			}()
			next.ServeHTTP(w, r2)
			x.served(r2)
			panicked = false
		})
	}
}
