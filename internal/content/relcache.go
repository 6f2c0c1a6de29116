package content

import (
	"context"
	"sync"

	"github.com/bamhq/bam/internal/content/schema"
)

// changeCacheSize is how many recent changes keep their relation data.
const changeCacheSize = 64

// changeCache holds, per recent change (by Seq), the related records its
// subscribers' rules and filters have needed: the first matcher that
// follows a relation reads it, every other subscriber of that change
// reuses the result. So a change costs at most one read per relation path
// its subscribers use, never one per subscriber.
type changeCache struct {
	mu    sync.Mutex
	m     map[uint64]*changeData
	order []uint64 // oldest first
}

func newChangeCache() *changeCache { return &changeCache{m: map[uint64]*changeData{}} }

// get returns the data of change seq, making room by forgetting the
// oldest change.
func (c *changeCache) get(seq uint64) *changeData {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.m[seq]; d != nil {
		return d
	}
	d := &changeData{rels: map[string]map[string]map[string]any{}}
	c.m[seq] = d
	c.order = append(c.order, seq)
	if len(c.order) > changeCacheSize {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	return d
}

// changeData is the relation data of one change: relation path → id →
// record (nil when it does not exist).
type changeData struct {
	mu    sync.Mutex
	rels  map[string]map[string]map[string]any
	reads int // database reads made for this change (tests)
}

// related returns the records of ids reached through relation path prefix
// (field f), in ids order, reading the ones not known yet in one query.
func (d *changeData) related(s *Service, prefix string, f schema.Field, ids []string) []map[string]any {
	if len(ids) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	known := d.rels[prefix]
	if known == nil {
		known = map[string]map[string]any{}
		d.rels[prefix] = known
	}
	var missing []string
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if target, ok := s.relationTarget(f); ok {
			ctx, cancel := context.WithTimeout(context.Background(), followTimeout)
			got, err := s.Records.GetMany(ctx, s.DB.SQL(), target, missing, nil)
			cancel()
			d.reads++
			if err != nil {
				s.Log.Warn("content: reading related records for realtime", "relation", prefix, "err", err)
				return nil // not remembered: the next subscriber tries again
			}
			for _, r := range got {
				known[idOf(r)] = r
			}
		}
		for _, id := range missing {
			if _, ok := known[id]; !ok {
				known[id] = nil
			}
		}
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		if r := known[id]; r != nil {
			out = append(out, r)
		}
	}
	return out
}
