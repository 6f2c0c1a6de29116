// Package kernel runs a chosen set of modules as one process.
//
// A module has a name, the modules it depends on, and a constructor that
// returns a Service. The kernel resolves the dependency graph for the
// requested targets, starts the modules in dependency order, reports their
// readiness, and stops them in reverse order — draining in-flight work
// within a deadline — when the process is told to stop or a module fails.
// This is what lets one binary run every service on a laptop or any one of
// them alone in a cluster (the shape of Loki's -target and Temporal's
// --services).
package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Service is a running module's lifecycle.
type Service interface {
	// Start brings the service up and returns once it serves; it must not
	// block for the service's lifetime.
	Start(ctx context.Context) error
	// Stop drains in-flight work and releases resources; ctx carries the
	// drain deadline.
	Stop(ctx context.Context) error
}

// ReadyChecker is implemented by services whose readiness depends on more
// than having started (a reachable database, a connected bus).
type ReadyChecker interface {
	Ready(ctx context.Context) error
}

// Failer is implemented by services that can fail after starting (a
// listener that dies). A value on the channel stops the whole process.
type Failer interface {
	Failed() <-chan error
}

// Module is a named unit the kernel can run.
type Module struct {
	Name string
	// Deps are started before this module and stopped after it.
	Deps []string
	// After orders this module after others when they run in the same
	// process, without requiring them (the gateway starts after the
	// services it fronts in-process, and stops before them).
	After []string
	// Init builds the service. It runs in dependency order, so it may use
	// what its dependencies built. A nil Init makes a grouping module (like
	// "all") that only pulls in its dependencies.
	Init func(ctx context.Context) (Service, error)
}

// State is where a module is in its lifecycle.
type State string

// Module states, in lifecycle order.
const (
	StateNew      State = "new"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopping State = "stopping"
	StateStopped  State = "stopped"
	StateFailed   State = "failed"
)

// Kernel runs modules.
type Kernel struct {
	// StopDelay is how long Stop waits, already unready, before stopping
	// modules: load balancers (a Kubernetes Service) take a few seconds to
	// stop sending new requests to a process whose readiness failed.
	StopDelay time.Duration

	modules map[string]Module
	log     *slog.Logger

	mu      sync.Mutex
	started []*instance // in start order
	failed  chan error
}

type instance struct {
	name  string
	svc   Service
	state State
	ran   bool // Start succeeded, so Stop is owed
}

// New registers modules. Duplicate names and dependencies on modules that
// do not exist are programming errors and reported as such.
func New(log *slog.Logger, modules ...Module) (*Kernel, error) {
	k := &Kernel{modules: map[string]Module{}, log: log, failed: make(chan error, 1)}
	for _, m := range modules {
		if m.Name == "" {
			return nil, errors.New("kernel: module with an empty name")
		}
		if _, dup := k.modules[m.Name]; dup {
			return nil, fmt.Errorf("kernel: module %q registered twice", m.Name)
		}
		k.modules[m.Name] = m
	}
	for _, m := range modules {
		for _, d := range append(slices.Clone(m.Deps), m.After...) {
			if _, ok := k.modules[d]; !ok {
				return nil, fmt.Errorf("kernel: module %q depends on unknown module %q", m.Name, d)
			}
		}
	}
	return k, nil
}

// Names lists the registered modules, sorted.
func (k *Kernel) Names() []string {
	names := make([]string, 0, len(k.modules))
	for n := range k.modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resolve returns the modules to start for targets, each after its
// dependencies and after the modules it runs After that are also in the
// set, in a deterministic order (targets and dependencies in the order
// given). An unknown name or a dependency cycle is an error that names it.
func (k *Kernel) Resolve(targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, errors.New("kernel: no services requested")
	}
	// First the set: the targets and, transitively, their Deps.
	first, err := k.order(targets, func(m Module) []string { return m.Deps }, nil)
	if err != nil {
		return nil, err
	}
	// Then the order within the set, which After also constrains.
	in := map[string]bool{}
	for _, n := range first {
		in[n] = true
	}
	return k.order(first, func(m Module) []string { return append(slices.Clone(m.Deps), m.After...) }, in)
}

// order is a depth-first topological sort from roots along edges; with a
// non-nil set, edges to modules outside it are ignored.
func (k *Kernel) order(roots []string, edges func(Module) []string, set map[string]bool) ([]string, error) {
	var (
		order []string
		done  = map[string]bool{}
		path  []string // the current DFS path, to report cycles
	)
	var visit func(name string) error
	visit = func(name string) error {
		if done[name] || (set != nil && !set[name]) {
			return nil
		}
		if i := slices.Index(path, name); i >= 0 {
			return fmt.Errorf("kernel: dependency cycle: %s", strings.Join(append(path[i:], name), " -> "))
		}
		m, ok := k.modules[name]
		if !ok {
			return fmt.Errorf("kernel: unknown service %q (known: %s)", name, strings.Join(k.Names(), ", "))
		}
		path = append(path, name)
		for _, d := range edges(m) {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		done[name] = true
		order = append(order, name)
		return nil
	}
	for _, t := range roots {
		if err := visit(strings.TrimSpace(t)); err != nil {
			return nil, err
		}
	}
	return order, nil
}
