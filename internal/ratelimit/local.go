package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultMaxKeys is Local's default bound on the number of buckets kept.
const DefaultMaxKeys = 1 << 17

// maxShards caps the number of shards: enough that lock contention stays low
// on many cores, few enough that small MaxKeys still spread sensibly.
const maxShards = 64

// LocalOptions configures a Local limiter. The zero value is usable.
type LocalOptions struct {
	// MaxKeys bounds the buckets kept in memory (default DefaultMaxKeys).
	// When full, the least recently used key is dropped; if that bucket was
	// not yet full again, its next request finds a full one (fails open).
	MaxKeys int
	// Now is the clock (default time.Now), injectable for tests.
	Now func() time.Time
}

// Local is an in-memory Limiter for one process. It never fails (except on
// an invalid Limit) and is safe for concurrent use.
//
// Buckets live in shards chosen by a hash of the key, each an LRU map under
// its own mutex. Keys whose bucket is full again are the same as absent
// (see gcra.go), so every call also drops such idle keys from the cold end
// of its shard: memory follows the number of recently active keys and
// never exceeds MaxKeys.
type Local struct {
	shards []localShard
	mask   uint64
	seed   maphash.Seed
	now    func() time.Time
	epoch  time.Time
}

type localShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, int64] // key -> TAT, ns since epoch
	_   [48]byte                      // keep shards on separate cache lines
}

// NewLocal returns an in-memory limiter.
func NewLocal(opts LocalOptions) *Local {
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	n := 1
	for n < maxShards && n*2 <= maxKeys {
		n *= 2
	}
	l := &Local{
		shards: make([]localShard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		now:    opts.Now,
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.epoch = l.now()
	perShard := maxKeys / n
	for i := range l.shards {
		l.shards[i].lru, _ = simplelru.NewLRU[string, int64](perShard, nil) // size > 0: no error
	}
	return l
}

// Allow takes one token from key's bucket.
func (l *Local) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	return l.AllowN(ctx, key, lim, 1)
}

// AllowN takes n tokens from key's bucket if it holds n.
func (l *Local) AllowN(_ context.Context, key string, lim Limit, n int) (Decision, error) {
	interval, err := lim.check(n)
	if err != nil {
		return Decision{}, err
	}
	d := l.allow(key, intervalNanos(interval), lim.Burst, n)
	countDecision(backendLocal, d.Allowed)
	return d, nil
}

func (l *Local) allow(key string, interval int64, burst, n int) Decision {
	now := int64(l.now().Sub(l.epoch))
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	tat, _ := s.lru.Get(key) // absent: 0, which gcra reads as "full"
	next, d := gcra(tat, now, interval, burst, n)
	if next != tat && next > now {
		s.lru.Add(key, next)
	}
	// Drop up to two idle keys from the cold end: more than one per call, so
	// idle keys drain faster than new ones arrive.
	for range 2 {
		if _, old, ok := s.lru.GetOldest(); !ok || old > now {
			break
		}
		s.lru.RemoveOldest()
	}
	s.mu.Unlock()
	return d
}

// Len returns the number of buckets held.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}
