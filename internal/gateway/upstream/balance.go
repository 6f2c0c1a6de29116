package upstream

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// target is one replica and everything the pool knows about it. Its
// fields are atomics: the request path reads them without a lock.
type target struct {
	raw       string // as given to SetTargets
	scheme    string
	host      string
	hostPort  string // host with its port, for dialing
	healthURL string // "" when not actively checked

	inFlight atomic.Int64
	healthy  atomic.Bool // the last active check passed (true until one fails)

	// Passive ejection, in pool time (see Pool.now).
	fails        atomic.Int32 // consecutive failures
	ejections    atomic.Int32 // ejections in a row, for the backoff
	ejectedUntil atomic.Int64 // 0: not ejected
	probation    atomic.Bool  // re-admitted after an ejection, not yet proven

	requests, failures atomic.Uint64 // totals, for Stats

	inFlightGauge prometheus.Gauge

	idle idleConns // Forward's connections (conns.go)
}

func newTarget(pool, raw string, healthURL func(string) string, healthPath string) (*target, error) {
	if err := CheckTarget(raw); err != nil {
		return nil, fmt.Errorf("upstream %s: target %q: %w", pool, raw, err)
	}
	u, _ := url.Parse(raw)
	t := &target{raw: raw, scheme: u.Scheme, host: u.Host, hostPort: u.Host}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		t.hostPort = net.JoinHostPort(u.Hostname(), port)
	}
	if healthURL != nil {
		t.healthURL = healthURL(raw)
	} else {
		t.healthURL = u.Scheme + "://" + u.Host + healthPath
	}
	t.healthy.Store(true) // optimistic until the first check, which runs at once
	t.inFlightGauge = inFlightGauge.WithLabelValues(pool, raw)
	return t, nil
}

// available says whether t may take a request at now: healthy and not
// ejected. An ejection that ran out re-admits t on probation.
func (t *target) available(now time.Duration) bool {
	if !t.healthy.Load() {
		return false
	}
	until := t.ejectedUntil.Load()
	return until == 0 || time.Duration(until) <= now
}

// excluded is a set of targets a request already tried, by index in the
// snapshot it picks from. Past 64 targets indexes share bits, which only
// makes a retry skip a replica it could have used.
type excluded uint64

func (e excluded) has(i int) bool { return e&(1<<(uint(i)%64)) != 0 }
func (e *excluded) add(i int)     { *e |= 1 << (uint(i) % 64) }
func (e excluded) ok(i int, t *target, now time.Duration) bool {
	return !e.has(i) && t.available(now)
}

// pick chooses a replica by the power of two choices: two distinct random
// available replicas, the one with fewer requests in flight wins; on a tie
// (always so when the pool is idle) the pool's round-robin counter decides,
// so light load spreads evenly too. It returns -1 when no replica is
// available. It allocates nothing.
func (p *Pool) pick(ts []*target, skip excluded, now time.Duration) int {
	n := 0
	only := -1
	for i, t := range ts {
		if skip.ok(i, t, now) {
			n++
			only = i
		}
	}
	switch n {
	case 0:
		return -1
	case 1:
		return only
	}
	a := rand.IntN(n)
	b := rand.IntN(n - 1)
	if b >= a {
		b++
	}
	ia, ib := nth(ts, skip, now, a), nth(ts, skip, now, b)
	if ia < 0 || ib < 0 { // a replica was ejected meanwhile
		return only
	}
	la, lb := ts[ia].inFlight.Load(), ts[ib].inFlight.Load()
	switch {
	case la < lb:
		return ia
	case lb < la:
		return ib
	}
	if i := nth(ts, skip, now, int(p.rr.Add(1)%uint64(n))); i >= 0 {
		return i
	}
	return ia
}

// pickAny chooses for a breaker probe when nothing is available: any
// replica not yet tried, the one whose ejection ends first (a replica the
// health check failed comes last).
func pickAny(ts []*target, skip excluded) int {
	best, bestKey := -1, int64(0)
	for i, t := range ts {
		if skip.has(i) {
			continue
		}
		key := t.ejectedUntil.Load()
		if !t.healthy.Load() {
			key += int64(time.Hour) * 24 * 365
		}
		if best < 0 || key < bestKey {
			best, bestKey = i, key
		}
	}
	return best
}

// nth returns the index of the k-th (from 0) available replica.
func nth(ts []*target, skip excluded, now time.Duration, k int) int {
	for i, t := range ts {
		if skip.ok(i, t, now) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1 // the set shrank since pick counted it
}
