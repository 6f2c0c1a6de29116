package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
)

// Builder turns configuration into Tables: the services' built-in routes
// plus users' routes from gateway.routes, each user upstream an
// upstream.Pool. Pools are shared by routes with the same replicas, timeout
// and retries, and kept across reloads (with their health and breaker
// state) for as long as some route uses them.
type Builder struct {
	// Builtin are the services' routes, Upstreams their transports.
	Builtin   []Route
	Upstreams map[string]http.RoundTripper
	Log       *slog.Logger
	// Transport is the template of user pools' connections (nil: the
	// pool's default).
	Transport *http.Transport
	// DNS re-resolves users' dns+http:// replicas (its Interval: 10s when
	// zero).
	DNS discovery.DNS

	mu      sync.Mutex
	pools   map[string]*userPool
	applied *config.Gateway // the section the gateway serves now
}

// Apply builds the table c describes and swaps it into g. On error g keeps
// its table and pools made for the rejected one are closed; on success
// pools no route uses any more are closed (their requests in flight finish).
func (b *Builder) Apply(g *Gateway, c config.Config) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, next, err := b.table(c)
	if err == nil {
		err = g.Swap(t)
	}
	keep := b.pools
	if err == nil {
		keep = next
	}
	for key, p := range b.pools {
		if keep[key] != p {
			_ = p.Close()
		}
	}
	for key, p := range next {
		if keep[key] != p {
			_ = p.Close()
		}
	}
	b.pools = keep
	if err == nil {
		gc := c.Gateway
		b.applied = &gc
	}
	return err
}

// Unchanged reports whether c's gateway section is the one the last
// successful Apply served: applying it again would change nothing.
func (b *Builder) Unchanged(c config.Config) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.applied != nil && reflect.DeepEqual(*b.applied, c.Gateway)
}

// New builds a gateway serving c.
func (b *Builder) New(c config.Config, opts Options) (*Gateway, error) {
	g := newGateway(opts)
	if err := b.Apply(g, c); err != nil {
		return nil, err
	}
	return g, nil
}

// Close closes the user pools.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.pools {
		_ = p.Close()
	}
	b.pools = nil
	return nil
}

// table converts c; pools are reused from b.pools or made new.
func (b *Builder) table(c config.Config) (Table, map[string]*userPool, error) {
	gc := c.Gateway
	t := Table{
		Routes:    slices.Clone(b.Builtin),
		Upstreams: maps.Clone(b.Upstreams),
		RateLimit: limitOf(gc.RateLimit),
		CORS:      CORS{Origins: gc.CORSOrigins, Credentials: gc.CORSCredentials, MaxAge: gc.CORSMaxAge},
		Compress:  gc.Compress,
	}
	if t.Upstreams == nil {
		t.Upstreams = map[string]http.RoundTripper{}
	}
	var err error
	if t.MaxBody, err = config.ParseSize(gc.MaxBody); err != nil {
		return Table{}, nil, fmt.Errorf("gateway: max_body: %w", err)
	}
	for i := range t.Routes {
		t.Routes[i].Builtin = true
	}
	if t.TrustedProxies, err = httpx.ParsePrefixes(gc.TrustedProxies); err != nil {
		return Table{}, nil, fmt.Errorf("gateway: trusted_proxies: %w", err)
	}
	pools := map[string]*userPool{}
	fail := func(err error) (Table, map[string]*userPool, error) { return Table{}, pools, err }
	for i, rc := range gc.Routes {
		r, err := routeOf(i, rc)
		if err != nil {
			return fail(err)
		}
		key := poolKey(rc)
		if pools[key] == nil {
			if p := b.pools[key]; p != nil {
				pools[key] = p
			} else if pools[key], err = b.newPool(key, rc); err != nil {
				delete(pools, key)
				return fail(routeError(r, "upstream: %v", err))
			}
		}
		r.Upstream = key
		t.Upstreams[key] = pools[key]
		t.Routes = append(t.Routes, r)
	}
	return t, pools, nil
}

func (b *Builder) newPool(key string, rc config.Route) (*userPool, error) {
	retries := 0 // the pool's default
	if rc.Retries != nil {
		retries = max(*rc.Retries, 0)
		if retries == 0 {
			retries = -1 // none
		}
	}
	static, names := discovery.Split(splitTargets(rc.Upstream))
	tr, err := discovery.Transport(b.Transport, static, names)
	if err != nil {
		return nil, err
	}
	p, err := upstream.New(upstream.Options{
		Name:      key,
		Targets:   static,
		Transport: tr,
		// Users' services need not serve a health endpoint: passive
		// ejection only, unless the route names one.
		HealthPath:     rc.Health.Path,
		HealthInterval: healthInterval(rc.Health),
		Timeout:        rc.Timeout,
		Retries:        retries,
		H2C:            rc.H2C,
		Logger:         b.Log,
	})
	if err != nil || len(names) == 0 {
		return &userPool{Pool: p}, err
	}
	return &userPool{Pool: p, stop: b.watch(p, static, names)}, nil
}

// healthInterval is the pool's HealthInterval for a route's health
// settings: none without a path, the pool's default when not given.
func healthInterval(h config.RouteHealth) time.Duration {
	if h.Path == "" {
		return -1
	}
	return h.Interval
}

// userPool is a user upstream's pool and the DNS watchers that feed it.
type userPool struct {
	*upstream.Pool
	stop func() // ends the watchers and waits for them; nil without dns+ replicas
}

// Close stops the watchers, then closes the pool: no lookup finishing
// late sets the targets of a closed pool.
func (u *userPool) Close() error {
	if u.stop != nil {
		u.stop()
	}
	return u.Pool.Close()
}

// watch feeds p the addresses of its dns+ replicas beside its static ones,
// resolved now (so that a new route has replicas when it starts serving)
// and again every b.DNS.Interval, until the returned function is called;
// that function returns once the watchers have stopped.
func (b *Builder) watch(p *upstream.Pool, static, names []string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	targets := discovery.NewTargets(p, static)
	dns := b.DNS
	if dns.Log == nil {
		dns.Log = b.Log
	}
	var watchers sync.WaitGroup
	for _, raw := range names {
		watch := dns.Follow(ctx, raw, func(ts []string) error { return targets.Set(raw, ts) })
		watchers.Go(func() { watch(ctx) })
	}
	return func() {
		cancel()
		watchers.Wait()
	}
}

// poolKey names a user upstream: its replicas and the settings its pool
// applies. It labels the pool's metrics.
func poolKey(rc config.Route) string {
	key := strings.Join(splitTargets(rc.Upstream), ",")
	var opts []string
	if rc.Timeout > 0 {
		opts = append(opts, "timeout "+rc.Timeout.String())
	}
	if rc.Retries != nil {
		opts = append(opts, fmt.Sprintf("retries %d", *rc.Retries))
	}
	if rc.H2C {
		opts = append(opts, "h2c")
	}
	if h := rc.Health; h.Path != "" {
		check := "health " + h.Path
		if h.Interval > 0 {
			check += " every " + h.Interval.String()
		}
		opts = append(opts, check)
	}
	if len(opts) > 0 {
		key += " (" + strings.Join(opts, ", ") + ")"
	}
	return key
}

func splitTargets(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSuffix(strings.TrimSpace(t), "/"); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// routeOf converts gateway.routes[i].
func routeOf(i int, rc config.Route) (Route, error) {
	r := Route{
		Prefix: rc.Path, Host: rc.Host, Methods: rc.Methods, StripPrefix: rc.StripPrefix,
		Auth: Policy(rc.Auth), Roles: rc.Roles, Permissions: rc.Permissions,
		RateLimit: limitOf(rc.RateLimit), Deprecated: rc.Deprecated, Override: rc.Override,
		Name: fmt.Sprintf("gateway.routes[%d] (%s)", i, rc.Path),
	}
	if rc.Sunset != "" {
		t, err := time.Parse(time.RFC3339, rc.Sunset)
		if err != nil {
			return r, routeError(r, "sunset %q: want an RFC 3339 time", rc.Sunset)
		}
		r.Sunset = t
	}
	max, err := config.ParseSize(rc.MaxBody)
	if err != nil {
		return r, routeError(r, "max_body: %v", err)
	}
	r.MaxBody = max
	return r, nil
}

// limitOf converts a configured limit; burst 0 means twice the rate.
func limitOf(l config.RateLimit) Limit {
	if l.RPS <= 0 {
		return Limit{}
	}
	burst := l.Burst
	if burst <= 0 {
		burst = max(1, int(2*l.RPS))
	}
	return Limit{Per: l.Per, Limit: ratelimit.Limit{Rate: l.RPS, Burst: burst}}
}
