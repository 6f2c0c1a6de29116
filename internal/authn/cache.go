package authn

import (
	"hash/maphash"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cacheShards splits the verified-token cache so that concurrent requests
// rarely wait on the same LRU lock (every Get takes it, to move the entry).
const cacheShards = 16

// tokenCache is a bounded LRU of verified principals keyed by a seeded
// 64-bit hash of their token (maphash: a few dozen nanoseconds for a token,
// where SHA-256 cost a microsecond or two), sharded by the hash. Each entry
// keeps its token, compared in full on every hit: two tokens that share a
// hash are told apart (the second is verified and takes the entry over),
// so the hash needs no resistance to collisions.
type tokenCache struct {
	seed   maphash.Seed
	shards [cacheShards]*lru.Cache[uint64, cachedToken]
}

type cachedToken struct {
	token string
	p     *Principal
}

func newTokenCache(size int) (*tokenCache, error) {
	c := &tokenCache{seed: maphash.MakeSeed()}
	per := max((size+cacheShards-1)/cacheShards, 1)
	for i := range c.shards {
		s, err := lru.New[uint64, cachedToken](per)
		if err != nil {
			return nil, err
		}
		c.shards[i] = s
	}
	return c, nil
}

// key is token's hash in c.
func (c *tokenCache) key(token string) uint64 { return maphash.String(c.seed, token) }

func (c *tokenCache) get(key uint64, token string) (*Principal, bool) {
	e, ok := c.shards[key%cacheShards].Get(key)
	if !ok || e.token != token {
		return nil, false
	}
	return e.p, true
}

// add keeps p for token; the token is copied, since the caller's string
// may be a view of a buffer that will be reused.
func (c *tokenCache) add(key uint64, token string, p *Principal) {
	c.shards[key%cacheShards].Add(key, cachedToken{token: string([]byte(token)), p: p})
}
