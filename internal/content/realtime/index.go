package realtime

import "slices"

// The subscription index: for each collection, the connections watching
// it with their subscriptions of that collection. It is copy-on-write:
// Publish loads the current snapshot atomically and reads it without any
// lock, while changes (under Hub.mu) build a new snapshot, copying only
// the collections and the shard of the connection they touch, and swap
// it in. A snapshot is never modified once stored.

// shardCount is the number of shards per collection: a change of one
// connection's subscriptions copies one shard (about 1/shardCount of the
// collection's watchers) and the array of shards, not every watcher.
const shardCount = 64

// index is an immutable snapshot of the subscriptions by collection.
type index struct {
	colls map[string]*collIndex
}

// collIndex holds the watchers of one collection, by shard.
type collIndex struct {
	n      int
	shards [shardCount][]watcher
}

// watcher is a connection with its subscriptions of one collection.
type watcher struct {
	c    *client
	subs []*sub // in the connection's order
}

// with returns a copy of ci where c watches with subs (none: c is
// removed); nil when no watcher is left.
func (ci *collIndex) with(c *client, subs []*sub) *collIndex {
	out := &collIndex{}
	if ci != nil {
		*out = *ci
	}
	old := out.shards[c.shard]
	sh := make([]watcher, 0, len(old)+1)
	for _, w := range old {
		if w.c != c {
			sh = append(sh, w)
		}
	}
	if len(subs) > 0 {
		sh = append(sh, watcher{c: c, subs: subs})
	}
	out.n += len(sh) - len(old)
	if out.n == 0 {
		return nil
	}
	if len(sh) == 0 {
		sh = nil
	}
	out.shards[c.shard] = sh
	return out
}

// setSubsLocked replaces c's subscriptions and swaps in an index that
// says so; the caller holds h.mu. The subscriptions c loses (their name
// is gone, or comes back with another topic or filter) are marked
// removed, so that no change still in flight is written naming them; one
// sent again unchanged keeps what is in flight.
func (h *Hub) setSubsLocked(c *client, subs []*sub) {
	byColl := make(map[string][]*sub, len(subs))
	for _, s := range subs {
		byColl[s.collection] = append(byColl[s.collection], s)
	}
	touched := make(map[string]bool, len(byColl)+len(c.subs))
	for coll := range byColl {
		touched[coll] = true
	}
	for _, s := range c.subs {
		touched[s.collection] = true
		if i := slices.IndexFunc(subs, s.sameAs); i >= 0 {
			if subs[i] != s {
				subs[i].removed = s.removed // subs[i] is new: nobody reads it yet
			}
		} else {
			s.removed.Store(true)
		}
	}
	old := h.idx.Load()
	colls := make(map[string]*collIndex, len(old.colls)+len(byColl))
	for coll, ci := range old.colls {
		colls[coll] = ci
	}
	for coll := range touched {
		if ci := colls[coll].with(c, byColl[coll]); ci != nil {
			colls[coll] = ci
		} else {
			delete(colls, coll)
		}
	}
	c.subs = subs
	h.idx.Store(&index{colls: colls})
}

// sameAs reports whether o is s or the same subscription sent again.
func (s *sub) sameAs(o *sub) bool {
	return o == s || (o.name == s.name && o.spec.Topic == s.spec.Topic && o.spec.Filter == s.spec.Filter)
}

// putSubLocked adds s to c, replacing the one of the same name.
func (h *Hub) putSubLocked(c *client, s *sub) {
	subs := make([]*sub, 0, len(c.subs)+1)
	replaced := false
	for _, old := range c.subs {
		if old.name == s.name {
			subs, replaced = append(subs, s), true
			continue
		}
		subs = append(subs, old)
	}
	if !replaced {
		subs = append(subs, s)
	}
	h.setSubsLocked(c, subs)
}

// dropSubLocked removes c's subscription called name, if any.
func (h *Hub) dropSubLocked(c *client, name string) {
	subs := make([]*sub, 0, len(c.subs))
	for _, old := range c.subs {
		if old.name != name {
			subs = append(subs, old)
		}
	}
	h.setSubsLocked(c, subs)
}

// fanout queues e for every watcher of ci whose subscriptions match it,
// in Publish's goroutine, so each connection gets the changes in Publish
// order. (Splitting a large fan-out between GOMAXPROCS workers was
// measured with BenchmarkFanout10kInMemory on 2 cores and gained nothing:
// the connections' goroutines need the CPUs as much.)
func (h *Hub) fanout(ci *collIndex, e *envelope) {
	for i := range ci.shards {
		h.deliver(ci.shards[i], e)
	}
}

// deliver queues e for the watchers that it matches.
func (h *Hub) deliver(ws []watcher, e *envelope) {
	for _, w := range ws {
		if subs := h.matching(w.subs, e); subs != nil {
			w.c.enqueue(item{env: e, subs: subs})
		}
	}
}

// matching returns the subscriptions among subs that e matches, in
// order.
func (h *Hub) matching(subs []*sub, e *envelope) []*sub {
	var out []*sub
	for _, s := range subs {
		if s.collection != e.change.Collection || !h.matches(s, e) {
			continue
		}
		switch len(out) {
		case 0:
			out = s.self // no allocation in the common case
		case 1:
			out = []*sub{out[0], s}
		default:
			out = append(out, s)
		}
	}
	return out
}

// matches runs one subscription's Matcher, turning errors and panics into
// no.
func (h *Hub) matches(s *sub, e *envelope) (ok bool) {
	if s.recordID != "" && s.recordID != e.change.ID {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			matcherErrors.Inc()
			h.logf("realtime: matcher panicked", "topic", s.spec.Topic, "filter", s.spec.Filter, "panic", r)
			ok = false
		}
	}()
	if !h.decodeRecord(e) {
		return false
	}
	ok, err := s.match(&e.change)
	if err != nil {
		matcherErrors.Inc()
		h.logf("realtime: matcher failed", "topic", s.spec.Topic, "filter", s.spec.Filter, "error", err)
		return false
	}
	return ok
}

// current returns subs without the removed ones (subs itself when none
// is).
func current(subs []*sub) []*sub {
	for i, s := range subs {
		if !s.removed.Load() {
			continue
		}
		out := append(make([]*sub, 0, len(subs)-1), subs[:i]...)
		for _, s := range subs[i+1:] {
			if !s.removed.Load() {
				out = append(out, s)
			}
		}
		return out
	}
	return subs
}
