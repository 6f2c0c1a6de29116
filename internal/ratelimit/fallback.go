package ratelimit

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// FallbackOptions configures a Fallback. The zero value is usable.
type FallbackOptions struct {
	// LocalShare scales every Limit (rate and burst, burst at least 1) while
	// on local limits. With N replicas sharing one budget in Redis, falling
	// back lets each replica admit the whole limit, up to N times the limit
	// in all; a LocalShare of 1/N keeps the sum near the limit instead (but
	// a client whose requests all land on one replica then gets 1/N of it).
	// 0 means 1: each replica applies the full limit. Decisions made
	// locally report the scaled burst as their Limit.
	LocalShare float64
	// Grace is how long Redis may fail before the limiter switches to local
	// limits (default 250ms; negative: at the first failure). A decision
	// whose Redis call fails is always made locally, at once; Grace only
	// decides when to stop asking Redis. A machine busy enough to hold a
	// call past the Redis timeout now and then (a stall of the process, a
	// slow scheduler) thus costs a few local decisions, not a second of
	// every replica applying the whole limit on its own.
	Grace time.Duration
	// ProbeInterval is how often Redis is probed while degraded (default 1s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds each probe (default 500ms).
	ProbeTimeout time.Duration
	// Logger receives one line when falling back and one when recovering
	// (default slog.Default()).
	Logger *slog.Logger
}

// Fallback is the Limiter the gateway uses: Redis while it answers, Local
// the moment it fails or times out. Its callers never see a Redis error
// and never wait longer than the Redis timeout.
//
// Each failed Redis call counts bam_ratelimit_redis_errors_total and is
// answered locally. When Redis has kept failing for Grace, with no success
// since the first failure, it switches: it logs once, counts
// bam_ratelimit_fallbacks_total, sets bam_ratelimit_backend{backend="local"}
// and starts probing Redis every ProbeInterval; when a probe succeeds it
// switches back to Redis. Switching costs some precision: local buckets
// start full (each key may get up to one extra burst), and the Redis buckets
// resume where they were.
//
// A Fallback with a nil Redis is simply Local (no Redis configured).
type Fallback struct {
	redis *Redis
	local *Local
	opts  FallbackOptions
	log   *slog.Logger

	degraded atomic.Bool
	// failingSince is when Redis started failing, as time.Time.UnixNano:
	// the first failure after a success; 0 while it answers.
	failingSince atomic.Int64

	mu     sync.Mutex // guards closed and starting the prober
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// NewFallback returns a limiter over r (may be nil) and local. Call Close to
// stop its background probe.
func NewFallback(r *Redis, local *Local, opts FallbackOptions) *Fallback {
	if opts.LocalShare <= 0 || opts.LocalShare > 1 {
		opts.LocalShare = 1
	}
	if opts.Grace == 0 {
		opts.Grace = 250 * time.Millisecond
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = time.Second
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 500 * time.Millisecond
	}
	f := &Fallback{redis: r, local: local, opts: opts, log: opts.Logger, done: make(chan struct{})}
	if f.log == nil {
		f.log = slog.Default()
	}
	setBackendGauge(f.Backend())
	return f
}

// Backend returns "redis" or "local": where decisions are made now.
func (f *Fallback) Backend() string {
	if f.redis == nil || f.degraded.Load() {
		return backendLocal
	}
	return backendRedis
}

// Allow takes one token from key's bucket.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	return f.AllowN(ctx, key, l, 1)
}

// AllowN takes n tokens from key's bucket if it holds n. It only returns an
// error for an invalid Limit or n.
func (f *Fallback) AllowN(ctx context.Context, key string, l Limit, n int) (Decision, error) {
	if _, err := l.check(n); err != nil {
		return Decision{}, err
	}
	if f.redis != nil && !f.degraded.Load() {
		d, err := f.redis.AllowN(ctx, key, l, n)
		if err == nil {
			if f.failingSince.Load() != 0 { // no write while healthy: the hot path shares the line
				f.failingSince.Store(0)
			}
			return d, nil
		}
		// A caller that gave up is no sign of Redis trouble.
		if ctx.Err() == nil {
			redisErrors.Inc()
			now := time.Now().UnixNano()
			since := now
			if !f.failingSince.CompareAndSwap(0, now) {
				if s := f.failingSince.Load(); s != 0 { // 0: a success just came between
					since = s
				}
			}
			if time.Duration(now-since) >= f.opts.Grace {
				f.degrade(err)
			}
		}
	}
	return f.local.AllowN(ctx, key, f.localLimit(l), n)
}

// localLimit scales l by LocalShare.
func (f *Fallback) localLimit(l Limit) Limit {
	if f.opts.LocalShare == 1 {
		return l
	}
	return Limit{
		Rate:  l.Rate * f.opts.LocalShare,
		Burst: max(1, int(math.Ceil(float64(l.Burst)*f.opts.LocalShare))),
	}
}

// degrade switches to local limits; only the first of concurrent failures
// logs and starts the prober.
func (f *Fallback) degrade(cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.degraded.CompareAndSwap(false, true) {
		return
	}
	fallbacksTotal.Inc()
	setBackendGauge(backendLocal)
	f.log.Warn("rate limiting falls back to local limits: redis failed",
		slog.Any("error", cause), slog.Float64("local_share", f.opts.LocalShare))
	since := time.Now()
	f.wg.Go(func() { f.probe(since) })
}

// probe pings Redis every ProbeInterval until it answers, then switches back.
func (f *Fallback) probe(since time.Time) {
	t := time.NewTicker(f.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		if err := f.redis.Ping(context.Background(), f.opts.ProbeTimeout); err != nil {
			continue
		}
		f.mu.Lock()
		if !f.closed {
			f.failingSince.Store(0)
			f.degraded.Store(false)
			setBackendGauge(backendRedis)
			f.log.Info("rate limiting back on redis",
				slog.Duration("degraded_for", time.Since(since).Round(time.Millisecond)))
		}
		f.mu.Unlock()
		return
	}
}

// Close stops the background probe. The Fallback keeps answering, from
// whichever backend it was on.
func (f *Fallback) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}
