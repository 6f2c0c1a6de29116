package content

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/store"
)

// Name is the service's name: its module, database, stream and source.
const Name = "content"

// Migrations are the content database's schema sets, in order: the
// collections catalogue, the outbox of its events, the inbox of the
// events it consumes.
var Migrations = []store.MigrationSet{schema.Migrations, outbox.Migrations, inbox.Migrations}

// inboxRetention is how long processed event ids are kept: longer than
// the auth stream keeps events, so a redelivery is always recognised.
const inboxRetention = 30 * 24 * time.Hour

// Spec is how the platform runs the content service.
func Spec(cfg config.Config) platform.Spec {
	return platform.Spec{
		Name:       Name,
		Deps:       []string{platform.ModuleBus},
		Migrations: Migrations,
		Routes:     Routes,
		Addr:       cfg.Content.Addr,
		Upstream:   cfg.Content.URL,
		New: func(ctx context.Context, p *platform.Platform) (kernel.Service, error) {
			return start(ctx, p)
		},
	}
}

// Realtime's streams must reach net/http on the service's own listener.
var _ platform.Streamer = (*running)(nil)

// running is the service with its background work, as the kernel runs it.
type running struct {
	*Service
	db     *store.DB
	bus    *bus.Bus
	deny   *authn.DenyList
	delay  time.Duration // shutdown_delay
	users  *inbox.Consumer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func start(ctx context.Context, p *platform.Platform) (*running, error) {
	var defs []schema.Collection
	if f := p.Config.Content.CollectionsFile; f != "" {
		var err error
		if defs, err = ReadCollectionsFile(f); err != nil {
			return nil, err
		}
	}
	edge, err := verifiers(p)
	if err != nil {
		return nil, err
	}
	db, err := p.OpenStore(ctx, Name, Migrations...)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*running, error) { db.Close(); return nil, err }
	if err := p.Bus.EnsureStream(ctx, Name); err != nil {
		return fail(err)
	}
	trusted, err := httpx.ParsePrefixes(p.Config.Auth.TrustedProxies)
	if err != nil {
		return fail(fmt.Errorf("auth.trusted_proxies: %w", err))
	}
	svc, err := New(ctx, Deps{DB: db, Outbox: outbox.New(db, p.Bus, outbox.Options{Logger: p.Log}),
		Verifier: edge.Verifier, APIKeys: edge.APIKeys, Log: p.Log},
		Options{PublicURL: p.Config.PublicURL, TrustedProxies: trusted})
	if err != nil {
		return fail(err)
	}
	if len(defs) > 0 {
		res, err := svc.ApplyCollections(ctx, defs)
		if err != nil {
			return fail(fmt.Errorf("content.collections_file: %w", err))
		}
		p.Log.Info("content: collections file applied", "file", p.Config.Content.CollectionsFile,
			"created", res.Created, "updated", res.Updated, "unchanged", len(res.Unchanged))
	}
	return &running{Service: svc, db: db, bus: p.Bus, deny: edge.DenyList,
		delay: p.Config.ShutdownDelay, users: svc.UserConsumer(p.Bus)}, nil
}

// Start runs the outbox relay, the consumer of user deletions, and the
// followers of the content stream (realtime, schema changes) and of
// session revocations and user deletions (the deny list; ending realtime
// connections).
func (r *running) Start(ctx context.Context) error {
	if err := r.Outbox.Start(ctx); err != nil {
		return err
	}
	if err := r.users.Start(ctx); err != nil {
		return errors.Join(err, r.Outbox.Stop(ctx))
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Go(func() {
		if err := r.Follow(bg, r.bus); err != nil {
			r.Log.Error("content: following the content stream", "err", err)
		}
	})
	r.wg.Go(func() {
		// Replayed over the deny list's own window (the token lifetime
		// and its leeway), as auth and the gateway do.
		if err := r.deny.Follow(bg, r.bus, r.deny.TokenLifetime()); err != nil {
			r.Log.Error("content: following revocations", "err", err)
		}
	})
	r.wg.Go(func() {
		if err := r.FollowAuth(bg, r.bus); err != nil {
			r.Log.Error("content: following user deletions and revocations for realtime", "err", err)
		}
	})
	r.wg.Go(func() { r.chores(bg) })
	r.wg.Go(func() { r.endStreamsOnShutdown(ctx, bg) })
	return nil
}

// endStreamsOnShutdown ends the realtime connections when the process
// starts draining (ctx, the process's, is done; after shutdown_delay, while
// load balancers notice), so that the listeners in front, which drain
// before this service stops, are not held open by streams that never end
// by themselves. Clients reconnect to another replica and resume.
func (r *running) endStreamsOnShutdown(ctx, bg context.Context) {
	select {
	case <-bg.Done():
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-bg.Done():
	case <-t.C:
		r.Close()
	}
}

// Stop ends the realtime connections and the background work, then the
// consumer, the outbox and the database.
func (r *running) Stop(ctx context.Context) error {
	r.Close()
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	return errors.Join(r.users.Stop(ctx), r.Outbox.Stop(ctx), r.db.Close())
}

// Ready implements kernel.ReadyChecker: the database answers and the
// replica follows the content stream (before that, realtime subscribers
// could miss changes).
func (r *running) Ready(ctx context.Context) error {
	select {
	case <-r.Following():
	default:
		return errors.New("content: not following the content stream yet")
	}
	return r.db.Ping(ctx)
}

// chores prunes old inbox rows daily.
func (r *running) chores(ctx context.Context) {
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		if _, err := inbox.Prune(ctx, r.db, time.Now().Add(-inboxRetention)); err != nil && ctx.Err() == nil {
			r.Log.Warn("content: pruning the inbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
