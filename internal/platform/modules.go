package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/ops"
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
			Logger:  p.Log.With("module", ModuleBus),
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
		w := &withListener{Service: svc}
		w.HTTPServer = &kernel.HTTPServer{Name: s.Name, Addr: s.Addr, Handler: w.withProbes(hs.Handler()), Log: p.Log}
		return w, nil
	}}
}

// withListener runs a service and serves its API on its own port: the
// listener starts after the service and stops (draining) before it.
type withListener struct {
	kernel.Service
	*kernel.HTTPServer
}

func (w *withListener) Start(ctx context.Context) error {
	if err := w.Service.Start(ctx); err != nil {
		return err
	}
	if err := w.HTTPServer.Start(ctx); err != nil {
		return errors.Join(err, w.Service.Stop(ctx))
	}
	return nil
}

func (w *withListener) Stop(ctx context.Context) error {
	return errors.Join(w.HTTPServer.Stop(ctx), w.Service.Stop(ctx))
}

// withProbes adds /readyz and /healthz beside the API, so a gateway's
// health checks reach the same port its requests do.
func (w *withListener) withProbes(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		if err := w.Ready(r.Context()); err != nil {
			http.Error(rw, "not ready: "+err.Error(), http.StatusServiceUnavailable)
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
// the service in this process or to its configured replicas.
func (p *Platform) gatewayModule() kernel.Module {
	var after []string
	for _, s := range p.specs {
		after = append(after, s.Name)
	}
	return kernel.Module{Name: ModuleGateway, After: after, Init: func(context.Context) (kernel.Service, error) {
		var routes []gateway.Route
		var pools []*upstream.Pool
		upstreams := map[string]http.RoundTripper{}
		for _, s := range p.specs {
			for _, prefix := range s.Routes {
				routes = append(routes, gateway.Route{Prefix: prefix, Upstream: s.Name})
			}
			if h, ok := p.Handler(s.Name); ok {
				upstreams[s.Name] = transport.InProcess(h)
			} else if s.Upstream != "" {
				pool, err := upstream.New(upstream.Options{Name: s.Name, Targets: strings.Split(s.Upstream, ","), Logger: p.Log})
				if err != nil {
					return nil, fmt.Errorf("%s upstream: %w", s.Name, err)
				}
				upstreams[s.Name] = pool
				pools = append(pools, pool)
			}
		}
		gw, err := gateway.New(routes, upstreams, p.Log)
		if err != nil {
			return nil, err
		}
		srv := &kernel.HTTPServer{Name: ModuleGateway, Addr: p.Config.HTTP.Addr,
			Handler: httpx.Stack(ModuleGateway, p.Log, gw), Log: p.Log}
		return &gatewayService{HTTPServer: srv, pools: pools}, nil
	}}
}

// gatewayService is the public listener and the upstream pools it owns:
// the listener drains first, then the pools' health checks stop.
type gatewayService struct {
	*kernel.HTTPServer
	pools []*upstream.Pool
}

func (g *gatewayService) Stop(ctx context.Context) error {
	err := g.HTTPServer.Stop(ctx)
	for _, p := range g.pools {
		err = errors.Join(err, p.Close())
	}
	return err
}
