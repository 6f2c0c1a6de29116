package upstream

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Health comes from two sources that a replica must both satisfy to take
// requests:
//
//   - Active checks: every HealthInterval each target's health URL is
//     fetched; anything but a 2xx answer within HealthTimeout marks it
//     unhealthy, the next 2xx healthy again. New targets start healthy and
//     are checked at once.
//   - Passive ejection: EjectAfter consecutive failed requests eject a
//     replica for EjectBase, doubled for each ejection in a row up to
//     EjectMax. When the time is up it is re-admitted on probation: its next
//     success forgives the past (the backoff restarts), its next failure
//     ejects it again at once, for longer.
//
// Ejection is kept apart from the active checks on purpose: a replica whose
// /readyz answers but whose API hangs must stay out.

// healthLoop runs the active checks until ctx is done.
func (p *Pool) healthLoop(ctx context.Context) {
	defer close(p.healthDone)
	tick := time.NewTicker(p.opts.HealthInterval)
	defer tick.Stop()
	for {
		p.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.kick:
		}
	}
}

// kickHealth asks for a round of checks now (after new targets arrived).
func (p *Pool) kickHealth() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Pool) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range *p.targets.Load() {
		if t.healthURL != "" {
			wg.Go(func() { p.check(ctx, t) })
		}
	}
	wg.Wait()
	p.refreshGauges()
}

func (p *Pool) check(parent context.Context, t *target) {
	ctx, cancel := context.WithTimeout(parent, p.opts.HealthTimeout)
	defer cancel()
	ok := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.healthURL, nil)
	if err == nil {
		var resp *http.Response
		resp, err = p.http1.RoundTrip(req) // every health endpoint speaks HTTP/1.1
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			ok = resp.StatusCode >= 200 && resp.StatusCode < 300
		}
	}
	if !ok && parent.Err() != nil {
		return // the pool is closing: say nothing
	}
	if was := t.healthy.Swap(ok); was != ok {
		if ok {
			p.log.Info("upstream replica healthy", "upstream", p.opts.Name, "target", t.raw)
		} else {
			p.log.Warn("upstream replica unhealthy", "upstream", p.opts.Name, "target", t.raw,
				"health_url", t.healthURL, "err", errOrStatus(err))
		}
	}
}

func errOrStatus(err error) any {
	if err != nil {
		return err
	}
	return "non-2xx answer"
}

// succeeded records a request that t answered well. While t is ejected
// it changes nothing, unless it was the breaker's probe (sent to a replica
// still ejected when no other was left): that request was sent before the
// ejection (a slow one), and forgiving t for it would put a replica that
// keeps failing back at once, its backoff reset; only a success after the
// ejection ends re-admits it.
func (p *Pool) succeeded(t *target, now time.Duration, probe bool) {
	if until := t.ejectedUntil.Load(); !probe && until != 0 && time.Duration(until) > now {
		return
	}
	if t.fails.Load() != 0 {
		t.fails.Store(0)
	}
	if t.probation.Load() && t.probation.CompareAndSwap(true, false) {
		t.ejections.Store(0)
		t.ejectedUntil.Store(0)
		p.log.Info("upstream replica re-admitted", "upstream", p.opts.Name, "target", t.raw)
	}
}

// failed records a failed request to t, and ejects t when that was one
// too many. Failures of requests sent before an ejection, arriving while
// it lasts, do not lengthen it.
func (p *Pool) failed(t *target, now time.Duration) {
	t.failures.Add(1)
	if p.opts.EjectAfter < 0 {
		return
	}
	until := t.ejectedUntil.Load()
	if until != 0 && time.Duration(until) > now {
		return
	}
	n := t.fails.Add(1)
	if !t.probation.Load() && int(n) < p.opts.EjectAfter {
		return
	}
	k := t.ejections.Load() + 1
	d := p.opts.EjectBase
	for i := int32(1); i < k && d < p.opts.EjectMax; i++ {
		d *= 2
	}
	d = min(d, p.opts.EjectMax)
	if !t.ejectedUntil.CompareAndSwap(until, int64(now+d)) {
		return // a concurrent failure ejected it
	}
	t.ejections.Store(k)
	t.fails.Store(0)
	t.probation.Store(true)
	p.metrics.ejections.Inc()
	p.log.Warn("upstream replica ejected", "upstream", p.opts.Name, "target", t.raw,
		"for", d, "consecutive_failures", n, "ejections_in_a_row", k)
	p.refreshGauges()
}
