package realtime

import (
	"sync"
	"time"
)

// logEvery is the least time between two rate-limited log lines.
const logEvery = time.Second

// logLimiter lets one line through per logEvery and counts the rest, so a
// failing rule evaluated for thousands of subscribers cannot flood the log.
type logLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many lines were suppressed
// since the last one.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < logEvery {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// logf logs a warning, at most once per logEvery.
func (h *Hub) logf(msg string, args ...any) {
	ok, suppressed := h.logLimit.allow(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	h.log.Warn(msg, args...)
}
