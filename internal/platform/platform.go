// Package platform wires bam together: it builds the process's shared
// infrastructure (ops server, event bus, per-service stores) as kernel
// modules, registers the services, and runs the chosen set.
//
// Services plug in through Spec: a name, the modules they need, their
// migrations and a constructor. The same wiring runs every service in one
// process or any one of them alone; nothing here knows which.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/store"
)

// Infrastructure module names, usable as dependencies by services.
const (
	ModuleOps     = "ops"
	ModuleBus     = "bus"
	ModuleGateway = "gateway"
	ModuleAll     = "all"
)

// Spec is what a service contributes to the platform.
type Spec struct {
	Name string
	// Deps are other modules started first (ModuleBus, another service).
	Deps []string
	// Migrations are applied to the service's own database at start and by
	// `bam migrate` (its own set first, then outbox/inbox when it uses them).
	Migrations []store.MigrationSet
	// Routes are the public path prefixes the gateway sends to this
	// service ("/v1/auth/").
	Routes []string
	// Addr is the service's own listener ("host:port"), served when the
	// gateway is not in the same process (split mode).
	Addr string
	// Upstream lists the service's replicas ("http://auth-1:8081,…") for a
	// gateway that does not run the service in-process.
	Upstream string
	// New builds the running service. The platform's Bus is open by then
	// when ModuleBus is among Deps. A service with an API returns an
	// HTTPService.
	New func(ctx context.Context, p *Platform) (kernel.Service, error)
}

// HTTPService is a service with an HTTP API. Handler is complete: routes
// wrapped in the service's own middleware (httpx.Stack), so it behaves the
// same behind the in-process transport and on its own listener.
type HTTPService interface {
	kernel.Service
	Handler() http.Handler
}

// Platform is one bam process: its configuration, logger, kernel, and the
// shared things its infrastructure modules build.
type Platform struct {
	Config  config.Config
	Log     *slog.Logger
	Version string
	Kernel  *kernel.Kernel

	// Bus is set once the bus module has started.
	Bus *bus.Bus

	// Reconfigure reads the configuration again, every layer, for a reload
	// (nil: the configuration cannot be reloaded). ConfigFile is the file it
	// reads, watched for changes when set.
	Reconfigure func() (config.Config, error)
	ConfigFile  string

	specs    []Spec
	mu       sync.Mutex
	handlers map[string]http.Handler // APIs of the services started in this process
	running  map[string]bool         // the modules this process runs, once resolved
	reload   []func(context.Context) error
}

// OnReload registers fn to run on Reload: a module that can apply a new
// configuration live (the gateway's routes) registers here.
func (p *Platform) OnReload(fn func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reload = append(p.reload, fn)
}

// Reload asks every registered module to reload its configuration (on
// SIGHUP). Each logs its own outcome; a rejected configuration leaves that
// module as it was.
func (p *Platform) Reload(ctx context.Context) error {
	p.mu.Lock()
	fns := slices.Clone(p.reload)
	p.mu.Unlock()
	var err error
	for _, fn := range fns {
		err = errors.Join(err, fn(ctx))
	}
	return err
}

// New registers the infrastructure modules and the given services.
func New(cfg config.Config, log *slog.Logger, version string, services ...Spec) (*Platform, error) {
	p := &Platform{Config: cfg, Log: log, Version: version, specs: services, handlers: map[string]http.Handler{}}
	all := kernel.Module{Name: ModuleAll, Deps: []string{ModuleBus, ModuleGateway}}
	modules := []kernel.Module{p.opsModule(), p.busModule(), p.gatewayModule()}
	for _, s := range services {
		modules = append(modules, p.serviceModule(s))
		all.Deps = append(all.Deps, s.Name)
	}
	k, err := kernel.New(log, append(modules, all)...)
	if err != nil {
		return nil, err
	}
	k.StopDelay = cfg.ShutdownDelay
	p.Kernel = k
	return p, nil
}

// Targets are the modules this process runs: the ops server always, first
// (so /healthz and /readyz answer during start-up and shutdown), then the
// configured services.
func (p *Platform) Targets() []string {
	return append([]string{ModuleOps}, p.Config.Services...)
}

// Run starts the configured services, logs how long start-up took, and
// blocks until ctx is done or a module fails; then it stops everything
// within the shutdown timeout. nil means a clean stop on request.
func (p *Platform) Run(ctx context.Context) error {
	began := time.Now()
	order, err := p.Kernel.Resolve(p.Targets())
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.running = map[string]bool{}
	for _, name := range order {
		p.running[name] = true
	}
	p.mu.Unlock()
	if err := p.Kernel.Start(ctx, p.Targets(), p.Config.ShutdownTimeout); err != nil {
		return err
	}
	if statuses, ready := p.awaitReady(ctx); ready {
		p.Log.Info("bam is ready", "version", p.Version, "modules", order,
			"startup", time.Since(began).Round(time.Millisecond))
	} else if ctx.Err() == nil {
		p.Log.Warn("bam started, but not every module is ready yet", "version", p.Version, "modules", order,
			"startup", time.Since(began).Round(time.Millisecond), "readiness", statuses)
	}
	err = p.Kernel.WaitAndStop(ctx, p.Config.ShutdownTimeout)
	if err == nil {
		p.Log.Info("bam stopped")
	}
	return err
}

// readyWait bounds how long Run waits, after the modules started, for
// all of them to be ready (a replica following its stream, a pool with
// a replica) before it says so; "bam is ready" means /readyz answers 200.
const readyWait = 30 * time.Second

// awaitReady polls the modules' readiness until all are ready, readyWait
// passes or ctx ends, and returns the last statuses.
func (p *Platform) awaitReady(ctx context.Context) ([]kernel.Status, bool) {
	deadline := time.Now().Add(readyWait)
	for {
		statuses := p.Kernel.Readiness(ctx)
		if kernel.Ready(statuses) {
			return statuses, true
		}
		if time.Now().After(deadline) {
			return statuses, false
		}
		select {
		case <-ctx.Done():
			return statuses, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runs reports whether this process runs the module name.
func (p *Platform) runs(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[name]
}

// Handler returns the API of a service started in this process.
func (p *Platform) Handler(service string) (http.Handler, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.handlers[service]
	return h, ok
}

// Spec returns the registered service named name.
func (p *Platform) Spec(name string) (Spec, bool) {
	i := slices.IndexFunc(p.specs, func(s Spec) bool { return s.Name == name })
	if i < 0 {
		return Spec{}, false
	}
	return p.specs[i], true
}

// Specs lists the registered services.
func (p *Platform) Specs() []Spec { return slices.Clone(p.specs) }

// StoreURL is where service keeps its data: its own SQLite file under the
// data directory, or the configured PostgreSQL server (in a schema named
// after the service, applied by OpenStore).
func (p *Platform) StoreURL(service string) string {
	if p.Config.Database.URL != "" {
		return p.Config.Database.URL
	}
	return "sqlite:" + filepath.Join(p.Config.DataDir, service+".db")
}

// OpenStore opens service's database and applies its migrations.
func (p *Platform) OpenStore(ctx context.Context, service string, sets ...store.MigrationSet) (*store.DB, error) {
	db, err := store.Open(ctx, p.StoreURL(service), store.Options{Name: service, Schema: service})
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", service, err)
	}
	if err := db.Migrate(ctx, sets...); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s database: %w", service, err)
	}
	return db, nil
}
