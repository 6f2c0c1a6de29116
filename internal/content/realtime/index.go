package realtime

// The subscription index: which connections watch which collection, and
// which of a connection's subscriptions a change matches.

// matching returns the subscriptions among subs that e matches, in
// order; the caller holds the Hub's lock (read) if subs are shared.
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
	ok, err := s.match(&e.change)
	if err != nil {
		matcherErrors.Inc()
		h.logf("realtime: matcher failed", "topic", s.spec.Topic, "filter", s.spec.Filter, "error", err)
		return false
	}
	return ok
}

// setSubs replaces c's subscriptions and keeps the collection index; the
// caller holds h.mu.
func (h *Hub) setSubsLocked(c *client, subs []*sub) {
	for coll := range c.byColl {
		h.unindexLocked(coll, c)
	}
	c.subs = subs
	c.byColl = make(map[string][]*sub, len(subs))
	for _, s := range subs {
		c.byColl[s.collection] = append(c.byColl[s.collection], s)
	}
	for coll := range c.byColl {
		set := h.byColl[coll]
		if set == nil {
			set = map[*client]struct{}{}
			h.byColl[coll] = set
		}
		set[c] = struct{}{}
	}
}

func (h *Hub) unindexLocked(coll string, c *client) {
	set := h.byColl[coll]
	delete(set, c)
	if len(set) == 0 {
		delete(h.byColl, coll)
	}
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
