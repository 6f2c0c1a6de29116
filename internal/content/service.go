// Package content is the content service: collections with schemas that
// admins define over the API (or in a file applied at start), their records
// with access rules per operation, filters, full-text search, relations
// and expansion, optimistic concurrency, batches of writes in one
// transaction, events through the outbox, and realtime delivery of changes
// to clients connected to any replica.
//
// The building blocks are its subpackages: expr (the filter and rule
// language), schema (collection definitions and their tables), records
// (storage and queries) and realtime (the SSE/WebSocket hub). This package
// joins them behind HTTP: who may do what (rules.go), the collection and
// record endpoints (collections.go, records_http.go, batch.go, expand.go),
// the events it emits and consumes (events.go, consumer.go), the stream
// it follows for realtime and schema changes (follow.go, subscribe.go), and
// the module the platform runs (module.go).
package content

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
)

// AdminPermission lets a caller manage collections and bypass every rule
// (authn's "admin" and "content.*" hold it too).
const AdminPermission = "content.admin"

// Body size limits.
const (
	DefaultMaxBodyBytes  = 1 << 20 // one record
	DefaultMaxBatchBytes = 8 << 20 // a batch of up to MaxBatch operations
	MaxBatch             = 100
)

// Options configure the service; module.go fills them from bam's config.
type Options struct {
	// Service is the name events are published under (bam.<Service>.…)
	// and the stream Follow reads: "content". Tests sharing a NATS server
	// use their own.
	Service string
	// AuthService is the service whose user.deleted events are consumed:
	// "auth".
	AuthService string
	// PublicURL is the base of Location headers and of the API document's
	// server; "" gives relative Locations.
	PublicURL     string
	MaxBodyBytes  int64
	MaxBatchBytes int64
	// TrustedProxies are the peers (the gateway) whose X-Forwarded-For
	// names the client: realtime counts an anonymous client's connections
	// by that address (empty: the TCP peer's).
	TrustedProxies []netip.Prefix
}

// Deps are what the service is built from.
type Deps struct {
	DB     *store.DB
	Outbox *outbox.Outbox
	// Verifier checks access tokens; APIKeys checks bam_ keys (nil: API
	// keys are refused).
	Verifier *authn.Verifier
	APIKeys  *authn.APIKeyVerifier
	Log      *slog.Logger
}

// Service is the content service's logic; its HTTP face is in http.go.
type Service struct {
	Deps
	opts     Options
	Registry *schema.Registry
	Records  *records.Store
	Hub      *realtime.Hub
	rules    *ruleCache
	relCache *changeCache // relation data of recent changes, for realtime matchers
	writes   *committer   // group commit of single-record writes (groupcommit.go)
	indexer  *schema.Indexer

	filterPaths filterPaths  // the relation paths of live subscriptions' filters
	lastRefresh atomic.Int64 // unix ns of the last refreshSometimes

	following  chan struct{} // closed once Follow has the stream's position
	followOnce sync.Once
}

// New builds the service and loads the collection definitions. db must
// have Migrations applied.
func New(ctx context.Context, d Deps, o Options) (*Service, error) {
	if d.DB == nil || d.Outbox == nil || d.Verifier == nil {
		return nil, errors.New("content: DB, Outbox and Verifier are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if o.Service == "" {
		o.Service = Name
	}
	if o.AuthService == "" {
		o.AuthService = "auth"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	s := &Service{Deps: d, opts: o, Registry: schema.NewRegistry(d.DB), following: make(chan struct{})}
	if err := s.Registry.Load(ctx); err != nil {
		return nil, err
	}
	if err := s.Registry.PrepareSearch(ctx); err != nil {
		return nil, err
	}
	s.indexer = schema.NewIndexer(d.DB, schema.IndexerOptions{Log: d.Log})
	s.Records = records.NewWithOptions(d.DB, s.Registry, records.Options{Indexer: s.indexer})
	s.rules = newRuleCache(s.Registry, d.Log)
	s.relCache = newChangeCache()
	s.writes = newCommitter(d.DB)
	s.Hub = realtime.NewHub(realtime.Options{Authorizer: subscriber{s}, Logger: d.Log,
		ClientKey: func(r *http.Request) string { return httpx.ClientIP(r, o.TrustedProxies).String() }})
	return s, nil
}

// Close ends the realtime connections and the background indexing of new
// records for search (what is left is indexed by the next search, or at
// the next start).
func (s *Service) Close() {
	s.Hub.Close()
	s.indexer.Close()
}

// collection returns the committed definition of name. When it is unknown
// here the registry is refreshed first (one small query; a full reload
// only if another replica changed the catalogue and its event is still on
// the way).
func (s *Service) collection(ctx context.Context, name string) (*schema.Collection, error) {
	s.refreshSometimes(ctx)
	if c, ok := s.Registry.Get(name); ok {
		return c, nil
	}
	if _, err := s.Registry.Refresh(ctx); err != nil {
		return nil, err
	}
	if c, ok := s.Registry.Get(name); ok {
		return c, nil
	}
	return nil, errNoCollection(name)
}

// refreshInterval is how often a replica checks, besides following the
// stream, whether the collection definitions changed: the bound on how
// long it may enforce stale rules when the stream lags.
const refreshInterval = time.Second

// refreshSometimes refreshes the registry (one small query; a reload only
// on a change) when it was last checked refreshInterval ago or more. One
// request at a time does it; the others go on with the definitions they
// have.
func (s *Service) refreshSometimes(ctx context.Context) {
	now := time.Now().UnixNano()
	last := s.lastRefresh.Load()
	if now-last < int64(refreshInterval) || !s.lastRefresh.CompareAndSwap(last, now) {
		return
	}
	if _, err := s.Registry.Refresh(ctx); err != nil && ctx.Err() == nil {
		s.Log.WarnContext(ctx, "content: checking the collection definitions", "err", err)
	}
}

// location is the URL of path for a Location header.
func (s *Service) location(path string) string {
	return trimSlash(s.opts.PublicURL) + path
}

func trimSlash(u string) string {
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

var _ http.Handler = (*realtime.Hub)(nil)
