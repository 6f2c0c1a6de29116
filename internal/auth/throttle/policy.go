package throttle

import (
	"fmt"
	"time"
)

// Policy says how many failures a key may have before it is blocked, and for
// how long. The zero value of each field takes the default in parentheses.
//
// With the defaults, failures 1–4 cost nothing; the 5th blocks the key for
// 1s, the 6th for 2s, the 7th for 4s, … doubling up to 15m, which every
// further failure then costs. An hour without failures forgets them all.
type Policy struct {
	// Free is the number of failures a key may have before backoff starts:
	// the Free-th failure is the first that blocks (5).
	Free int
	// Base is the first block, after the Free-th failure (1s). Each further
	// failure doubles it: failure n blocks for Base·2^(n−Free).
	Base time.Duration
	// Max caps a block (15m).
	Max time.Duration
	// Window is how long failures are remembered: a key with no failure for
	// Window starts over (1h). It must be at least Max, or a key would be
	// forgiven while it is still blocked.
	Window time.Duration
	// Clock returns the current time (time.Now). Replicas compare times
	// written by each other, so their clocks must agree (NTP) to well
	// under Base.
	Clock func() time.Time
}

// Defaults applied by New to zero fields.
const (
	DefaultFree   = 5
	DefaultBase   = time.Second
	DefaultMax    = 15 * time.Minute
	DefaultWindow = time.Hour
)

// withDefaults fills zero fields and rejects inconsistent policies.
func (p Policy) withDefaults() (Policy, error) {
	if p.Free == 0 {
		p.Free = DefaultFree
	}
	if p.Base == 0 {
		p.Base = DefaultBase
	}
	if p.Max == 0 {
		p.Max = DefaultMax
	}
	if p.Window == 0 {
		p.Window = max(DefaultWindow, p.Max)
	}
	if p.Clock == nil {
		p.Clock = time.Now
	}
	switch {
	case p.Free < 1:
		return p, fmt.Errorf("throttle: Free = %d: want at least 1", p.Free)
	case p.Base < time.Millisecond:
		return p, fmt.Errorf("throttle: Base = %s: want at least 1ms", p.Base)
	case p.Max < p.Base:
		return p, fmt.Errorf("throttle: Max = %s: want at least Base (%s)", p.Max, p.Base)
	case p.Window < p.Max:
		return p, fmt.Errorf("throttle: Window = %s: want at least Max (%s)", p.Window, p.Max)
	}
	return p, nil
}

// block returns how long the failures-th failure in a run blocks its key: 0
// before the Free-th, then Base·2^(failures−Free), capped at Max.
func (p Policy) block(failures int) time.Duration {
	if failures < p.Free {
		return 0
	}
	d := p.Base
	for range failures - p.Free {
		if d >= p.Max/2 { // doubling would reach Max; also avoids overflow
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}
