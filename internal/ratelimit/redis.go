package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/rawsock"
)

// DefaultPrefix starts every Redis key the limiter writes.
const DefaultPrefix = "bam:rl:"

// DefaultTimeout bounds one Redis decision: past it the caller is better
// served by a local answer than by waiting.
const DefaultTimeout = 50 * time.Millisecond

// gcraScript is gcra (gcra.go) on Redis's own clock, in microseconds, so
// that replicas with skewed clocks agree. KEYS[1] is the bucket; ARGV are
// the interval in µs (may be fractional), the burst and n. It returns
// {allowed, remaining, reset µs, retry-after µs}. The TAT is stored with
// sub-µs precision ("%.3f": Lua's tostring would keep only 14 digits) and
// expires when the bucket is full again, which is when it stops mattering.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if tat < now then tat = now end
local tolerance = interval * burst
if tat > now + tolerance then tat = now + tolerance - interval end
local nextTat = tat + interval * n
local allowAt = nextTat - tolerance
if allowAt > now then
  local rem = math.floor((tolerance - (tat - now)) / interval + 1e-9)
  return {0, rem, math.ceil(tat - now), math.ceil(allowAt - now)}
end
if n > 0 then
  local ttl = math.ceil((nextTat - now) / 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', ttl)
end
local rem = math.floor((tolerance - (nextTat - now)) / interval + 1e-9)
return {1, rem, math.ceil(nextTat - now), 0}
`)

// RedisOptions configures a Redis limiter. The zero value is usable.
type RedisOptions struct {
	// Prefix starts every key (default DefaultPrefix).
	Prefix string
	// Timeout bounds each decision (default DefaultTimeout). It only holds
	// if the client honours context deadlines: see NewClient.
	Timeout time.Duration
}

// Redis is a Limiter whose buckets live in Redis, shared by every process
// using the same Redis and prefix. Each decision is one EVALSHA (EVAL when
// the script is not cached) of an atomic script that reads Redis's clock.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// NewRedis returns a limiter over client, which should have
// ContextTimeoutEnabled set (NewClient does) so that Timeout is honoured.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	r := &Redis{client: client, prefix: opts.Prefix, timeout: opts.Timeout}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	return r
}

// NewClient opens a go-redis client for rawURL (redis://… or rediss://…)
// tuned for rate limiting: context deadlines honoured, at most one retry
// without backoff, one dial attempt per connection (go-redis would retry a
// refused dial with 100ms pauses), no maintenance-notification handshake,
// and short timeouts, so that a dead Redis costs milliseconds, not seconds.
func NewClient(rawURL string) (*redis.Client, error) {
	routeRedisLogs()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis url: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	opt.MinRetryBackoff = -1 // no backoff between the try and the retry
	opt.MaxRetryBackoff = -1
	opt.DialTimeout = time.Second
	opt.DialerRetries = 1 // a refused dial fails at once; the Fallback's probe is the retry
	opt.ReadTimeout = 500 * time.Millisecond
	opt.WriteTimeout = 500 * time.Millisecond
	opt.PoolTimeout = time.Second
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// A limit is a round trip per request: without the runtime's system
	// call bookkeeping (internal/rawsock). Over TLS the dialer's conn is
	// TLS's, left as it is.
	opt.Dialer = rawsock.WrapDial(redis.NewDialer(opt))
	return redis.NewClient(opt), nil
}

// Allow takes one token from key's bucket.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	return r.AllowN(ctx, key, l, 1)
}

// AllowN takes n tokens from key's bucket if it holds n. A Redis failure or
// timeout is an Unavailable error with code ratelimit.unavailable.
func (r *Redis) AllowN(ctx context.Context, key string, l Limit, n int) (Decision, error) {
	interval, err := l.check(n)
	if err != nil {
		return Decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := time.Now()
	res, err := gcraScript.Run(ctx, r.client, []string{r.prefix + key},
		interval/float64(time.Microsecond), l.Burst, n).Int64Slice()
	redisDuration.Observe(time.Since(start).Seconds())
	if err == nil && len(res) != 4 {
		err = fmt.Errorf("script returned %d values, want 4", len(res))
	}
	if err != nil {
		return Decision{}, errs.Wrap(err, errs.Unavailable, "ratelimit.unavailable", "rate limiter unavailable")
	}
	d := Decision{
		Allowed:    res[0] == 1,
		Limit:      l.Burst,
		Remaining:  int(min(max(res[1], 0), int64(l.Burst))),
		Reset:      time.Duration(max(res[2], 0)) * time.Microsecond,
		RetryAfter: time.Duration(max(res[3], 0)) * time.Microsecond,
	}
	countDecision(backendRedis, d.Allowed)
	return d, nil
}

// Ping checks that Redis takes decisions again within timeout: it runs
// the limiter's own script, on a key of its own, because a Redis that
// answers PING may still refuse the script's writes (maxmemory reached
// with noeviction, scripting disabled), and switching back to it would
// only fail again.
func (r *Redis) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return gcraScript.Run(ctx, r.client, []string{r.prefix + probeKey}, 1, 1, 1).Err()
}

// probeKey is the bucket Ping takes from: it starts with NUL, which no
// caller's key does (the gateway's start with their kind, "ip:", "user:"…).
const probeKey = "\x00probe"
