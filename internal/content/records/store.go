package records

import (
	"sync"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// Options configure a Store.
type Options struct {
	// Now is the clock that stamps created and updated; time.Now if nil.
	Now func() time.Time
	// ScanBatch is how many rows Scan reads per query; 500 if 0.
	ScanBatch int
	// QueryTimeout bounds the queries of one List; DefaultQueryTimeout
	// if 0.
	QueryTimeout time.Duration
	// Indexer indexes inserted records for search after their
	// transactions commit (SQLite); nil: before they commit.
	Indexer *schema.Indexer
}

// Store reads and writes records of the collections in a schema.Registry.
// It is safe for concurrent use.
type Store struct {
	db      *store.DB
	reg     *schema.Registry
	dialect store.Dialect
	now     func() time.Time
	batch   int
	timeout time.Duration // of a List
	index   *schema.Indexer

	metas  sync.Map // collection name → *meta (the latest definition seen)
	stmts  *stmtCache
	counts *counts // of lists with count=true (counts.go)
}

// New returns a store over db and the collections of reg.
func New(db *store.DB, reg *schema.Registry) *Store { return NewWithOptions(db, reg, Options{}) }

// NewWithOptions is New with options.
func NewWithOptions(db *store.DB, reg *schema.Registry, o Options) *Store {
	s := &Store{db: db, reg: reg, dialect: db.Dialect(), now: o.Now, batch: o.ScanBatch, timeout: o.QueryTimeout,
		index: o.Indexer}
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch <= 0 {
		s.batch = 500
	}
	if s.timeout <= 0 {
		s.timeout = DefaultQueryTimeout
	}
	s.stmts = newStmtCache(s.dialect == store.SQLite)
	s.counts = newCounts(time.Now) // not Now: a test's fixed clock would keep counts forever
	return s
}

// stamp returns the current time as the store writes it: UTC, whole
// milliseconds (what expr.DateLayout can show, so records read back equal
// records written).
func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// dateArg binds t for a date column: time.Time on PostgreSQL, the
// expr.DateLayout text on SQLite.
func (s *Store) dateArg(t time.Time) any {
	if s.dialect == store.Postgres {
		return t
	}
	return t.UTC().Format(expr.DateLayout)
}
