package authn

import (
	"crypto/sha256"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cacheShards splits the verified-token cache so that concurrent requests
// rarely wait on the same LRU lock (every Get takes it, to move the entry).
const cacheShards = 16

// tokenCache is a bounded LRU of verified principals keyed by the SHA-256
// of their token, sharded by the first byte of the hash.
type tokenCache struct {
	shards [cacheShards]*lru.Cache[[sha256.Size]byte, *Principal]
}

func newTokenCache(size int) (*tokenCache, error) {
	c := &tokenCache{}
	per := max((size+cacheShards-1)/cacheShards, 1)
	for i := range c.shards {
		s, err := lru.New[[sha256.Size]byte, *Principal](per)
		if err != nil {
			return nil, err
		}
		c.shards[i] = s
	}
	return c, nil
}

func (c *tokenCache) shard(sum *[sha256.Size]byte) *lru.Cache[[sha256.Size]byte, *Principal] {
	return c.shards[sum[0]%cacheShards]
}

func (c *tokenCache) get(sum [sha256.Size]byte) (*Principal, bool) {
	return c.shard(&sum).Get(sum)
}

func (c *tokenCache) add(sum [sha256.Size]byte, p *Principal) {
	c.shard(&sum).Add(sum, p)
}
