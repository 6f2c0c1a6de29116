package upstream

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// BreakerState is the state of a pool's circuit breaker.
type BreakerState int

// The breaker states; the numbers are the breaker-state gauge's values.
const (
	Closed   BreakerState = 0 // requests flow
	HalfOpen BreakerState = 1 // one probe request is let through
	Open     BreakerState = 2 // requests fail fast with ErrCircuitOpen
)

func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	}
	return "open"
}

// breaker counts request outcomes in a fixed window (reset when a window
// has passed since its start) and decides whether requests may go out.
type breaker struct {
	opts BreakerOptions

	mu          sync.Mutex
	state       BreakerState
	windowStart time.Duration
	total, bad  int
	openUntil   time.Duration
	probing     bool // half-open and the probe is out
}

// admit says whether a request may go out at now, and whether it is the
// half-open probe (whose outcome decides the breaker's next state).
func (b *breaker) admit(now time.Duration) (ok, probe bool, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true, false, false
	case Open:
		if now < b.openUntil {
			return false, false, false
		}
		b.state, b.probing = HalfOpen, true
		return true, true, true
	}
	if b.probing {
		return false, false, false
	}
	b.probing = true
	return true, true, false
}

// record counts a request's outcome. It returns the state and whether it
// changed.
func (b *breaker) record(now time.Duration, failed, probe bool) (BreakerState, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		if b.state != HalfOpen {
			return b.state, false
		}
		if failed {
			b.openLocked(now)
		} else {
			b.state = Closed
			b.windowStart, b.total, b.bad = now, 0, 0
		}
		return b.state, true
	}
	if b.state != Closed {
		return b.state, false
	}
	if now-b.windowStart >= b.opts.Window {
		b.windowStart, b.total, b.bad = now, 0, 0
	}
	b.total++
	if !failed {
		return b.state, false
	}
	b.bad++
	if b.opts.Failures >= 0 && b.bad >= b.opts.Failures &&
		float64(b.bad) >= b.opts.FailureRatio*float64(b.total) {
		b.openLocked(now)
		return b.state, true
	}
	return b.state, false
}

// release gives back a probe whose outcome says nothing about the
// upstream (the caller went away): the next request probes instead.
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// trip opens the breaker at once: no replica is available. It reports
// whether the state changed.
func (b *breaker) trip(now time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		return false
	}
	b.probing = false
	b.openLocked(now)
	return true
}

func (b *breaker) openLocked(now time.Duration) {
	b.state = Open
	b.openUntil = now + b.opts.OpenFor
}

func (b *breaker) current() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (p *Pool) recordOutcome(now time.Duration, failed, probe bool) {
	if state, changed := p.breaker.record(now, failed, probe); changed {
		p.breakerChanged(state)
	}
}

func (p *Pool) breakerChanged(state BreakerState) {
	p.metrics.breaker.Set(float64(state))
	lvl := slog.LevelInfo
	if state == Open {
		lvl = slog.LevelWarn
	}
	p.log.Log(context.Background(), lvl, "upstream circuit breaker "+state.String(), "upstream", p.opts.Name)
}
