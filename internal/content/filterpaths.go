package content

import (
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
)

// filterPaths counts, per collection, the relation paths (author.name) of
// the filters of live realtime subscriptions, so that preload reads what
// they need. A subscription adds its filter's paths when it is made; they
// are removed pathLinger after the hub lets go of its Matcher (the
// subscription ended or was replaced) and the garbage collector has
// noticed: until then a change may cost a read nobody needs, never a
// missing one. The linger is for the connection that went away and comes
// back with Last-Event-ID: the changes it missed meanwhile must have been
// read with its paths, or their replay would fail its filter closed.
type filterPaths struct {
	mu     sync.Mutex
	m      map[string]map[string]int // collection → "author.name" → subscriptions
	linger time.Duration             // pathLinger; tests shorten it
}

// pathLinger is how long a relation path stays read after its last
// subscription went away: time enough to reconnect and resume.
const pathLinger = 5 * time.Minute

// add counts the relation paths of filter (over collection) for as long
// as owner, which the subscription's Matcher holds, is reachable.
func (fp *filterPaths) add(collection string, filter expr.Node, owner *matcherState) {
	var keys []string
	for _, ref := range expr.Refs(filter) {
		if len(ref) > 1 {
			keys = append(keys, strings.Join(ref, "."))
		}
	}
	if len(keys) == 0 {
		return
	}
	fp.mu.Lock()
	if fp.m == nil {
		fp.m = map[string]map[string]int{}
	}
	if fp.m[collection] == nil {
		fp.m[collection] = map[string]int{}
	}
	for _, k := range keys {
		fp.m[collection][k]++
	}
	fp.mu.Unlock()
	runtime.AddCleanup(owner, func(keys []string) {
		linger := fp.linger
		if linger == 0 {
			linger = pathLinger
		}
		time.AfterFunc(linger, func() { fp.remove(collection, keys) })
	}, keys)
}

func (fp *filterPaths) remove(collection string, keys []string) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for _, k := range keys {
		if fp.m[collection][k]--; fp.m[collection][k] <= 0 {
			delete(fp.m[collection], k)
		}
	}
	if len(fp.m[collection]) == 0 {
		delete(fp.m, collection)
	}
}

// of returns the paths counted for collection, as Refs gives them.
func (fp *filterPaths) of(collection string) [][]string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	out := make([][]string, 0, len(fp.m[collection]))
	for k := range fp.m[collection] {
		out = append(out, strings.Split(k, "."))
	}
	return out
}
