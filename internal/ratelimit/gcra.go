package ratelimit

import "time"

// GCRA keeps a token bucket as one number per key: the theoretical arrival
// time (TAT), the moment at which the bucket will be full again. With
// interval T = 1/rate and capacity B:
//
//   - a request for n tokens at time now moves the TAT to
//     max(TAT, now) + n·T;
//   - it is allowed if that new TAT is at most B·T ahead of now (the bucket
//     held n tokens), and then the new TAT is stored;
//   - otherwise it is denied, the TAT is left alone, and it would pass at
//     newTAT - B·T.
//
// Remaining tokens are (B·T - (TAT - now)) / T, rounded down; the bucket is
// full again (Reset) at TAT. A TAT more than B·T ahead (stored under a
// stricter limit that a reload has since raised) counts as now + (B-1)·T:
// one token left under the limit in force, refilling at its rate. A key whose TAT is in the past is the same as a
// key never seen, which is what lets Local evict idle keys and Redis expire
// them without changing any answer.
//
// gcra is that step on nanosecond timestamps; the Lua script in redis.go is
// the same step on Redis's microsecond clock.
func gcra(tat, now, interval int64, burst, n int) (newTAT int64, d Decision) {
	if tat < now {
		tat = now
	}
	tolerance := interval * int64(burst)
	if tat > now+tolerance {
		// Only a stricter limit (before a reload raised it) sets a TAT
		// further ahead than a whole bucket: the bucket holds one token
		// under the new limit, not a debt of the old one's refill time.
		tat = now + tolerance - interval
	}
	next := tat + interval*int64(n)
	allowAt := next - tolerance
	d.Limit = burst
	if allowAt > now {
		d.Reset = time.Duration(tat - now)
		d.RetryAfter = time.Duration(allowAt - now)
		d.Remaining = remaining(tolerance-(tat-now), interval, burst)
		return tat, d
	}
	d.Allowed = true
	d.Reset = time.Duration(next - now)
	d.Remaining = remaining(tolerance-(next-now), interval, burst)
	return next, d
}

// remaining converts spare tolerance into whole tokens, within [0, burst].
func remaining(spare, interval int64, burst int) int {
	if spare <= 0 {
		return 0
	}
	return min(int(spare/interval), burst)
}

// intervalNanos rounds an emission interval to whole nanoseconds (at least
// one: rates above 10⁹/s are treated as 10⁹/s).
func intervalNanos(interval float64) int64 {
	return max(1, int64(interval+0.5))
}
