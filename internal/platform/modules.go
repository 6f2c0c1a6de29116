package platform

import (
	"context"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/ops"
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

// serviceModule turns a service's Spec into a kernel module.
func (p *Platform) serviceModule(s Spec) kernel.Module {
	return kernel.Module{Name: s.Name, Deps: s.Deps, Init: func(ctx context.Context) (kernel.Service, error) {
		return s.New(ctx, p)
	}}
}
