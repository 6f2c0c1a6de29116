package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/ops"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/transport"
)

// opsModule serves /metrics, /healthz and /readyz for the whole process.
func (p *Platform) opsModule() kernel.Module {
	return kernel.Module{Name: ModuleOps, Init: func(context.Context) (kernel.Service, error) {
		return &kernel.HTTPServer{
			Name:    ModuleOps,
			Addr:    p.Config.Ops.Addr,
			Handler: ops.Handler(p.Kernel.Readiness, prometheus.DefaultGatherer, p.Version),
			Log:     p.Log,
		}, nil
	}}
}

// busModule connects to NATS JetStream: an embedded server with its store
// under the data directory, or the configured external cluster.
func (p *Platform) busModule() kernel.Module {
	return kernel.Module{Name: ModuleBus, Init: func(ctx context.Context) (kernel.Service, error) {
		b, err := bus.Open(ctx, bus.Options{
			URL:     p.Config.NATS.URL,
			DataDir: filepath.Join(p.Config.DataDir, "nats"),
			Listen:  p.Config.NATS.Listen,
			Name:    "bam",
			// An embedded server is one node: one copy.
			StreamReplicas: p.Config.NATS.StreamReplicas,
			Logger:         p.Log.With("module", ModuleBus),
		})
		if err != nil {
			return nil, err
		}
		p.Bus = b
		return busService{b}, nil
	}}
}

// busService adapts the open bus to the kernel's lifecycle: it is already
// up when built, so Start has nothing left to do.
type busService struct{ b *bus.Bus }

func (s busService) Start(context.Context) error     { return nil }
func (s busService) Stop(context.Context) error      { return s.b.Close() }
func (s busService) Ready(ctx context.Context) error { return s.b.Ready(ctx) }

// serviceModule turns a service's Spec into a kernel module. A service
// with an API gets its own listener when no gateway runs beside it.
func (p *Platform) serviceModule(s Spec) kernel.Module {
	return kernel.Module{Name: s.Name, Deps: s.Deps, Init: func(ctx context.Context) (kernel.Service, error) {
		svc, err := s.New(ctx, p)
		if err != nil {
			return nil, err
		}
		hs, ok := svc.(HTTPService)
		if !ok {
			return svc, nil
		}
		p.mu.Lock()
		p.handlers[s.Name] = hs.Handler()
		p.mu.Unlock()
		if p.runs(ModuleGateway) || s.Addr == "" {
			return svc, nil
		}
		w := &withListener{Service: svc, announceAs: s.Name, platform: p}
		w.listener = p.serviceListener(s.Name, s.Addr, w.withProbes(hs.Handler()), svc)
		return w, nil
	}}
}

// withListener runs a service and serves its API on its own port: the
// listener starts after the service and stops (draining) before it.
type withListener struct {
	kernel.Service
	listener
	announceAs string      // the service announced on the bus while listening
	platform   *Platform   // for announcing
	announce   *announcing // set while announcing
}

func (w *withListener) Start(ctx context.Context) error {
	if err := w.Service.Start(ctx); err != nil {
		return err
	}
	if err := w.listener.Start(ctx); err != nil {
		return errors.Join(err, w.Service.Stop(ctx))
	}
	w.platform.startAnnouncing(w.announceAs, w)
	return nil
}

func (w *withListener) Stop(ctx context.Context) error {
	w.stopAnnouncing() // goodbye first: gateways stop sending before the listener drains
	return errors.Join(w.listener.Stop(ctx), w.Service.Stop(ctx))
}

// Streamer is an HTTPService with endpoints that answer as a stream
// (Server-Sent Events): Streams says which, by the request's path, so that
// its own listener leaves them to net/http and serves the rest in the fast
// lane.
type Streamer interface {
	Streams(path []byte) bool
}

// serviceListener is a service's own listener: the fast lane's
// (fastlane.Server) unless http.fast_lane is off, with the streams svc
// declares (Streamer) handed to net/http. In the lane a request costs a
// fifth less CPU (a record read by id: docs/benchmarks.md).
func (p *Platform) serviceListener(name, addr string, h http.Handler, svc kernel.Service) listener {
	if !p.Config.HTTP.FastLane {
		return &kernel.HTTPServer{Name: name, Addr: addr, Handler: h, Log: p.Log}
	}
	srv := &fastlane.Server{Name: name, Addr: addr, Handler: h, Log: p.Log}
	if st, ok := svc.(Streamer); ok {
		srv.Fast = func(ctx *fasthttp.RequestCtx) bool { return !st.Streams(ctx.Path()) }
	}
	return srv
}

// readyTimeout bounds a readiness check on a service's own listener.
const readyTimeout = 5 * time.Second

// withProbes adds /readyz and /healthz beside the API, so a gateway's
// health checks reach the same port its requests do. Why a service is not
// ready (a database host, a user name in a driver's error) is told on the
// ops listener's /readyz, not here, where the API's clients reach.
func (w *withListener) withProbes(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		// Bounded here: a request in the fast lane is not cancelled when
		// its client (a health checker that gave up) leaves.
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := w.Ready(ctx); err != nil {
			http.Error(rw, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) { _, _ = rw.Write([]byte("ok\n")) })
	mux.Handle("/", api)
	return mux
}

func (w *withListener) Ready(ctx context.Context) error {
	if rc, ok := w.Service.(kernel.ReadyChecker); ok {
		return rc.Ready(ctx)
	}
	return nil
}

// gatewayModule serves the public API: each service's routes, proxied to
// the service in this process or to its configured replicas, plus users'
// routes from gateway.routes; tokens are checked at the edge against the
// auth service (in-process or its replicas) and rate limits apply (shared
// through Redis when redis.url is set). The routes reload live when the
// config file changes and on Platform.Reload (SIGHUP).
func (p *Platform) gatewayModule() kernel.Module {
	after := []string{ModuleBus} // ordering only: the deny-list follows the bus when it runs here
	for _, s := range p.specs {
		after = append(after, s.Name)
	}
	return kernel.Module{Name: ModuleGateway, Deps: p.gatewayDeps(), After: after, Init: func(ctx context.Context) (kernel.Service, error) {
		gs := &gatewayService{log: p.Log, file: p.ConfigFile}
		gc := p.Config.Gateway
		upstreamTransport, err := gateway.UpstreamTransport(gc.UpstreamCA, gc.UpstreamCert, gc.UpstreamKey)
		if err != nil {
			return nil, err
		}
		var builtin []gateway.Route
		upstreams := map[string]http.RoundTripper{}
		for _, s := range p.specs {
			for _, prefix := range s.Routes {
				builtin = append(builtin, gateway.Route{Prefix: prefix, Upstream: s.Name, Auth: gateway.AuthOptional})
			}
			if h, ok := p.Handler(s.Name); ok {
				upstreams[s.Name] = transport.InProcess(h)
			} else if pool, err := p.discoveredPool(ctx, s, gs, upstreamTransport); err != nil {
				gs.close()
				return nil, fmt.Errorf("%s upstream: %w", s.Name, err)
			} else if pool != nil {
				upstreams[s.Name] = pool
				gs.pools = append(gs.pools, pool)
			}
		}
		opts := gateway.Options{Log: p.Log}
		if rt, ok := upstreams["auth"]; ok {
			a, err := gateway.NewEdgeAuth(gateway.EdgeAuthOptions{Issuer: p.Config.PublicURL,
				Audience: p.Config.Auth.Audience, Auth: rt, TokenLifetime: p.Config.Auth.AccessTokenTTL})
			if err != nil {
				gs.close()
				return nil, err
			}
			opts.Auth, gs.auth = a, a
		}
		var rdb *ratelimit.Redis
		if u := p.Config.Redis.URL; u != "" {
			client, err := ratelimit.NewClient(u)
			if err != nil {
				gs.close()
				return nil, err
			}
			gs.redis = client
			rdb = ratelimit.NewRedis(client, ratelimit.RedisOptions{})
		}
		gs.limiter = ratelimit.NewFallback(rdb, ratelimit.NewLocal(ratelimit.LocalOptions{}),
			ratelimit.FallbackOptions{Logger: p.Log})
		opts.Limiter = gs.limiter
		gs.builder = &gateway.Builder{Builtin: builtin, Upstreams: upstreams, Log: p.Log, Transport: upstreamTransport,
			DNS: discovery.DNS{Interval: p.Config.Gateway.DNSInterval, Log: p.Log}}
		gw, err := gs.builder.New(p.Config, opts)
		if err != nil {
			gs.close()
			return nil, err
		}
		if p.Reconfigure != nil {
			gs.reloader = &gateway.Reloader{Gateway: gw, Builder: gs.builder, Load: p.Reconfigure, Log: p.Log}
			p.OnReload(gs.reloader.Reload)
			gs.reload = p.Reload // a changed file reloads as SIGHUP does: the routes, then the docs
		}
		gs.bus = func() *bus.Bus { return p.Bus }
		handler := httpx.Stack(ModuleGateway, p.Log, p.gatewayDocs(gw, upstreams).Wrap(gw))
		switch {
		case gc.TLSCert != "":
			srv := &kernel.HTTPServer{Name: ModuleGateway, Addr: p.Config.HTTP.Addr, Handler: handler, Log: p.Log}
			if srv.TLS, err = gateway.ServerTLS(gc.TLSCert, gc.TLSKey); err != nil {
				gs.close()
				return nil, err
			}
			gs.listener = srv
		case gc.FastLane:
			gs.listener = &fastlane.Server{Name: ModuleGateway, Addr: p.Config.HTTP.Addr, Handler: handler, Fast: gw.Fast,
				Native: gw.ServeNative, Log: p.Log}
		default:
			gs.listener = &kernel.HTTPServer{Name: ModuleGateway, Addr: p.Config.HTTP.Addr, Handler: handler, Log: p.Log}
		}
		return gs, nil
	}}
}

// listener is the gateway's public listener: net/http's (kernel.HTTPServer)
// or, for plain HTTP, the fast lane's (fastlane.Server).
type listener interface {
	kernel.Service
	kernel.Failer
	BoundAddr() string
}

// gatewayService is the public listener and what it owns: upstream pools,
// the rate limiter, the deny-list follower and the config file watcher.
// The listener drains first, then the rest stops.
type gatewayService struct {
	listener
	log      *slog.Logger
	file     string
	pools    []*upstream.Pool
	builder  *gateway.Builder
	reloader *gateway.Reloader
	reload   func(context.Context) error // Platform.Reload
	auth     *gateway.EdgeAuth
	limiter  *ratelimit.Fallback
	redis    io.Closer
	bus      func() *bus.Bus
	discover []func(context.Context) // DNS watchers, the announcement registry
	registry *discovery.Registry
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func (g *gatewayService) Start(ctx context.Context) error {
	if err := g.listener.Start(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.cancel = cancel
	if b := g.bus(); g.auth != nil && b != nil {
		g.wg.Go(func() { _ = g.auth.DenyList.Follow(bg, b, g.auth.DenyList.TokenLifetime()) })
	} else if g.auth != nil {
		g.log.Warn("gateway: no event bus in this process; sessions revoked before their tokens expire pass the edge (services still refuse them)")
	}
	for _, fn := range g.discover {
		g.wg.Go(func() { fn(bg) })
	}
	if g.reloader != nil && g.file != "" {
		g.wg.Go(func() {
			gateway.WatchFile(bg, g.file, time.Second, func() { _ = g.reload(bg) })
		})
	}
	return nil
}

func (g *gatewayService) Stop(ctx context.Context) error {
	err := g.listener.Stop(ctx)
	return errors.Join(err, g.close())
}

// close stops the background work and releases what the gateway owns.
func (g *gatewayService) close() error {
	if g.cancel != nil {
		g.cancel()
		g.wg.Wait()
	}
	var err error
	for _, p := range g.pools {
		err = errors.Join(err, p.Close())
	}
	if g.builder != nil {
		err = errors.Join(err, g.builder.Close())
	}
	if g.limiter != nil {
		err = errors.Join(err, g.limiter.Close())
	}
	if g.redis != nil {
		err = errors.Join(err, g.redis.Close())
	}
	return err
}
