package content

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/content/schema"
)

// Realtime's relation data. Rules and filters of subscribers may follow
// relations (author.name); matchers evaluate them in memory, so the
// related records of a change are read before the change is published, by
// preload: one query per relation path (every id of that hop together),
// all under the change's one deadline, trusted (every record): what each
// subscriber may see of them is decided in memory (see evalRecord).
// Matchers never read the database; a path that was not read, or whose
// read failed, makes the matchers that need it fail closed (no match).

// changeCacheSize is how many recent changes keep their relation data, for
// the matchers of resuming connections too: a connection resuming from
// further back does not get the older changes whose rule or filter follows
// a relation.
const changeCacheSize = 1024

// changeCache holds the relation data of recent changes, by Seq.
type changeCache struct {
	mu    sync.Mutex
	m     map[uint64]*changeData
	order []uint64 // oldest first
}

func newChangeCache() *changeCache { return &changeCache{m: map[uint64]*changeData{}} }

// put keeps d as the data of change seq, forgetting the oldest change
// past changeCacheSize.
func (c *changeCache) put(seq uint64, d *changeData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[seq]; !ok {
		c.order = append(c.order, seq)
	}
	c.m[seq] = d
	if len(c.order) > changeCacheSize {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

// get returns the data of change seq; nil when it had none, or is
// forgotten.
func (c *changeCache) get(seq uint64) *changeData {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[seq]
}

// changeData is the relation data of one change, complete once preload
// returns and read-only afterwards (so matchers share it without locks).
type changeData struct {
	rels   map[string]map[string]map[string]any // relation path → id → record (absent: does not exist)
	failed map[string]bool                      // paths whose read failed: their matchers fail closed
	reads  int                                  // queries made (tests)
}

// related returns the records of ids reached through relation path, in
// ids order (missing ones left out); ok false when path was not read or
// its read failed.
func (d *changeData) related(path string, ids []string) (out []map[string]any, ok bool) {
	if d == nil || d.failed[path] {
		return nil, false
	}
	known, ok := d.rels[path]
	if !ok {
		return nil, false
	}
	for _, id := range ids {
		if r := known[id]; r != nil {
			out = append(out, r)
		}
	}
	return out, true
}

// preload reads the related records the subscribers of ch's collection
// may need — paths, from relationPaths — and keeps them for ch's
// matchers. It runs before Publish, on the follower's goroutine, within
// ctx (the change's one deadline).
func (s *Service) preload(ctx context.Context, ch *realtime.Change, paths []relPath) {
	if len(paths) == 0 {
		return
	}
	if ch.Record == nil && ch.RecordJSON != nil {
		// The relation ids are in the record: decode it here, and the hub
		// will not again.
		if err := json.Unmarshal(ch.RecordJSON, &ch.Record); err != nil {
			s.Log.Warn("content: a change's record does not decode; no relation data for its matchers",
				"collection", ch.Collection, "id", ch.ID, "seq", ch.Seq, "err", err)
			return
		}
	}
	if ch.Record == nil {
		return
	}
	d := &changeData{rels: map[string]map[string]map[string]any{}, failed: map[string]bool{}}
	for _, p := range paths { // parents before children
		key := strings.Join(p.path, ".")
		parent := strings.Join(p.path[:len(p.path)-1], ".")
		if d.failed[parent] {
			d.failed[key] = true
			continue
		}
		var ids []string
		if parent == "" {
			ids = relationIDs(ch.Record[p.field.Name])
		} else {
			for _, r := range d.rels[parent] {
				ids = append(ids, relationIDs(r[p.field.Name])...)
			}
		}
		known := map[string]map[string]any{}
		d.rels[key] = known
		if len(ids) == 0 {
			continue
		}
		d.reads++
		got, err := s.Records.GetMany(ctx, s.DB.SQL(), p.target, ids, nil)
		if err != nil {
			s.Log.Warn("content: reading related records for realtime; matchers that need them will not match",
				"collection", ch.Collection, "relation", key, "err", err)
			d.failed[key] = true
			continue
		}
		for _, r := range got {
			known[idOf(r)] = r
		}
	}
	s.relCache.put(ch.Seq, d)
}

// relPath is one relation path from a collection: its fields, the last
// one's field and target.
type relPath struct {
	path   []string
	field  schema.Field
	target *schema.Collection
}

// relationPaths lists the relation paths out of collection that the
// matchers of its subscribers may follow, parents before children: those
// of its list and view rules, of its subscribers' filters, and, past each
// hop into a collection, that collection's view rule (what a filter may
// see of the records it reaches), within expr.MaxHops.
func (s *Service) relationPaths(collection string) []relPath {
	c, ok := s.Registry.Get(collection)
	if !ok {
		return nil
	}
	var out []relPath
	seen := map[string]bool{}
	var add func(c *schema.Collection, prefix []string, refs [][]string)
	add = func(c *schema.Collection, prefix []string, refs [][]string) {
		for _, ref := range refs {
			at, path := c, prefix
			for _, seg := range ref[:len(ref)-1] {
				if len(path) >= expr.MaxHops {
					break // past the budget a hop leads to no record
				}
				f, ok := relationField(at, seg)
				if !ok {
					break
				}
				target, ok := s.Registry.Get(f.Collection)
				if !ok {
					break
				}
				path = append(path[:len(path):len(path)], seg)
				key := strings.Join(path, ".")
				if !seen[key] {
					seen[key] = true
					out = append(out, relPath{path: path, field: f, target: target})
					if n, visible := s.viewRule(target.Name); visible && n != nil {
						add(target, path, expr.Refs(n))
					}
				}
				at = target
			}
		}
	}
	for _, o := range []op{opList, opView} {
		if r := s.rules.get(c, o); r.node != nil {
			add(c, nil, expr.Refs(r.node))
		}
	}
	add(c, nil, s.filterPaths.of(collection))
	// Parents first: shorter paths before longer ones.
	slices.SortStableFunc(out, func(a, b relPath) int { return cmp.Compare(len(a.path), len(b.path)) })
	return out
}
