package records

import (
	"crypto/sha256"
	"fmt"
	"regexp"
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
// the answer only changes when the tables it reads do. So a count is kept
// and given again to the same query (same statement, same arguments: the
// caller's rule arguments included) until one of the collection tables
// the statement names changes — its own, and those a filter or rule reads
// through relations:
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
// The generations are read before the list's queries run, so a write
// committed meanwhile leaves an entry that is already stale.

// countTTL bounds how long a count is given again without a change seen.
const countTTL = time.Second

// countEntries bounds the counts kept (per Store); keys are hashes, so an
// entry costs the same whatever the size of its statement.
const countEntries = 4096

// tableName finds the collection tables a statement names (quoted, as
// meta.table writes them; a search's FTS table counts with its own table's
// generation, which its writes bump).
var tableName = regexp.MustCompile(`"c_[A-Za-z0-9_]+"`)

type countEntry struct {
	n   int64
	gen uint64
	at  time.Time
}

// countQuery is a count statement and what the kept counts know of it.
type countQuery struct {
	text string
	key  [sha256.Size]byte
	gen  uint64 // of the tables text names, when looked up
	hit  bool   // n is a count kept for this generation
	n    int64
}

// counts is the cache of list counts and the generations of the tables.
type counts struct {
	now   func() time.Time
	gens  sync.Map      // table (quoted) → *atomic.Uint64
	epoch atomic.Uint64 // bumped by ChangedAll: every table's counts are stale
	cache *lru.Cache[[sha256.Size]byte, countEntry]
}

func newCounts(now func() time.Time) *counts {
	c, _ := lru.New[[sha256.Size]byte, countEntry](countEntries) // fails only for a size ≤ 0
	return &counts{now: now, cache: c}
}

func (c *counts) table(name string) *atomic.Uint64 {
	g, ok := c.gens.Load(name)
	if !ok {
		g, _ = c.gens.LoadOrStore(name, new(atomic.Uint64))
	}
	return g.(*atomic.Uint64)
}

// gen sums the generations of the tables text names and the epoch: all
// only grow, so the sum changes whenever one of them does.
func (c *counts) gen(text string) uint64 {
	sum := c.epoch.Load()
	for _, name := range tableName.FindAllString(text, -1) {
		sum += c.table(name).Load()
	}
	return sum
}

func (c *counts) bump(table string) { c.table(table).Add(1) }

// lookup returns what is kept for text with args: the count, if it is
// still good, and the key and generation to keep a fresh one under.
func (c *counts) lookup(text string, args []any) countQuery {
	q := countQuery{text: text, gen: c.gen(text)}
	h := sha256.New()
	h.Write([]byte(text))
	h.Write([]byte{0})
	h.Write([]byte(argsKey(args)))
	h.Sum(q.key[:0])
	if e, ok := c.cache.Get(q.key); ok && e.gen == q.gen && c.now().Sub(e.at) < countTTL {
		q.hit, q.n = true, e.n
	}
	return q
}

func (c *counts) keep(q countQuery, n int64) {
	c.cache.Add(q.key, countEntry{n: n, gen: q.gen, at: c.now()})
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
