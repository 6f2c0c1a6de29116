// Package discovery finds the replicas of the gateway's upstreams while
// they come and go, and keeps each upstream.Pool's targets up to date:
//
//   - static URLs from the configuration (http://10.0.0.7:8081);
//   - DNS names, written dns+http://auth.bam.svc.cluster.local:8081: every
//     A and AAAA record of the name is a replica, re-resolved periodically
//     (what a Kubernetes headless Service gives);
//   - announcements on the bus: split-mode services publish their own
//     address on Subject every few seconds and a goodbye when they stop;
//     a Registry adds them to their service's pool and drops those that
//     said goodbye or fell silent.
//
// A pool's targets are the union of its sources (Targets), so a DNS name or
// the bus can add replicas beside static ones.
package discovery

import (
	"slices"
	"sync"
)

// Sink is what discovery feeds: upstream.Pool implements it.
type Sink interface {
	SetTargets(targets []string) error
}

// Targets merges the target lists of several sources (static, one per DNS
// name, the bus) into one Sink: each Set replaces one source's list and
// sends the union on. It is safe for concurrent use.
type Targets struct {
	sink Sink

	mu      sync.Mutex
	sources map[string][]string
	last    []string
}

// NewTargets returns a merger feeding sink, starting with static targets.
func NewTargets(sink Sink, static []string) *Targets {
	t := &Targets{sink: sink, sources: map[string][]string{}}
	if len(static) > 0 {
		t.sources["static"] = slices.Clone(static)
	}
	return t
}

// Set replaces the targets that source contributes (nil removes them) and
// updates the sink when the union changed.
func (t *Targets) Set(source string, targets []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(targets) == 0 {
		delete(t.sources, source)
	} else {
		t.sources[source] = slices.Clone(targets)
	}
	all := t.unionLocked()
	if t.last != nil && slices.Equal(all, t.last) {
		return nil
	}
	if err := t.sink.SetTargets(all); err != nil {
		return err
	}
	t.last = all
	return nil
}

// All returns the current union, sorted.
func (t *Targets) All() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unionLocked()
}

func (t *Targets) unionLocked() []string {
	all := []string{}
	for _, ts := range t.sources {
		all = append(all, ts...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}
