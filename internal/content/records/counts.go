package records

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// Counting every matching row is what makes a list with count=true slow on
// a big table (a million rows: milliseconds of scanning per request), and
// the answer only changes when the collection does. So a count is kept
// and given again to the same query (same statement, same arguments: the
// caller's rule arguments included) until the collection changes:
//
//   - a write through this Store bumps its table's generation once its
//     transaction commits (store.Tx.OnCommit), so this replica never
//     serves a count older than its own committed writes;
//   - other replicas' writes arrive as record events (Changed), and any
//     collection change as a collection event (ChangedAll);
//   - an entry is trusted for at most countTTL, which bounds what the
//     bus cannot: writes while it is down, or made by a process outside
//     the service (bam content import on the same database).
//
// The generation is read before the count runs, so a write committed
// meanwhile leaves an entry that is already stale.

// countTTL bounds how long a count is given again without a change seen.
const countTTL = time.Second

// countEntries bounds the counts kept (per Store).
const countEntries = 4096

type countKey struct{ table, text, args string }

type countEntry struct {
	n   int64
	gen uint64
	at  time.Time
}

// counts is the cache of list counts and the generations of the tables.
type counts struct {
	now   func() time.Time
	gens  sync.Map      // table → *atomic.Uint64
	epoch atomic.Uint64 // bumped by ChangedAll: every table's counts are stale
	cache *lru.Cache[countKey, countEntry]
}

func newCounts(now func() time.Time) *counts {
	c, _ := lru.New[countKey, countEntry](countEntries) // fails only for a size ≤ 0
	return &counts{now: now, cache: c}
}

func (c *counts) gen(table string) uint64 {
	g, ok := c.gens.Load(table)
	if !ok {
		g, _ = c.gens.LoadOrStore(table, new(atomic.Uint64))
	}
	// Both only grow, so their sum changes whenever either does.
	return g.(*atomic.Uint64).Load() + c.epoch.Load()
}

func (c *counts) bump(table string) {
	g, _ := c.gens.LoadOrStore(table, new(atomic.Uint64))
	g.(*atomic.Uint64).Add(1)
}

// lookup returns the kept count of text with args on table, if it is
// still good, and the key and generation to keep a fresh one under.
func (c *counts) lookup(table, text string, args []any) (n int64, ok bool, key countKey, gen uint64) {
	key = countKey{table: table, text: text, args: argsKey(args)}
	gen = c.gen(table)
	if e, hit := c.cache.Get(key); hit && e.gen == gen && c.now().Sub(e.at) < countTTL {
		return e.n, true, key, gen
	}
	return 0, false, key, gen
}

func (c *counts) keep(key countKey, gen uint64, n int64) {
	c.cache.Add(key, countEntry{n: n, gen: gen, at: c.now()})
}

// argsKey writes args with their types, so that "1" and 1 differ, each
// value quoted, so that no value can forge the separator: two argument
// lists have the same key only if they are the same.
func argsKey(args []any) string {
	var b strings.Builder
	for _, a := range args {
		fmt.Fprintf(&b, "%T:%q\x00", a, fmt.Sprint(a))
	}
	return b.String()
}

// wrote marks table changed once tx commits.
func (s *Store) wrote(tx *store.Tx, table string) {
	tx.OnCommit(func() { s.counts.bump(table) })
}

// Changed tells the Store that records of collection changed elsewhere
// (another replica's write, seen on the bus): its kept counts are stale.
func (s *Store) Changed(collection string) {
	s.counts.bump(quote(schema.Table(collection)))
}

// ChangedAll makes every kept count stale (a collection was created,
// changed or deleted).
func (s *Store) ChangedAll() { s.counts.epoch.Add(1) }
