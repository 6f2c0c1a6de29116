package kernel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Start resolves targets and starts their modules in dependency order. If a
// module fails to build or start, the ones already started are stopped (in
// reverse order, within stopTimeout) and the error names the module.
func (k *Kernel) Start(ctx context.Context, targets []string, stopTimeout time.Duration) error {
	order, err := k.Resolve(targets)
	if err != nil {
		return err
	}
	for _, name := range order {
		if err := k.startOne(ctx, name); err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			return errors.Join(err, k.Stop(stopCtx))
		}
	}
	return nil
}

func (k *Kernel) startOne(ctx context.Context, name string) error {
	m := k.modules[name]
	if m.Init == nil {
		return nil
	}
	inst := &instance{name: name, state: StateStarting}
	k.mu.Lock()
	k.started = append(k.started, inst)
	k.mu.Unlock()

	began := time.Now()
	svc, err := m.Init(ctx)
	if err == nil && svc == nil {
		err = errors.New("Init returned no service")
	}
	if err == nil {
		k.mu.Lock() // readiness probes read svc concurrently
		inst.svc = svc
		k.mu.Unlock()
		err = svc.Start(ctx)
	}
	if err != nil {
		k.setState(inst, StateFailed)
		return fmt.Errorf("kernel: starting %s: %w", name, err)
	}
	k.mu.Lock()
	inst.state, inst.ran = StateRunning, true
	k.mu.Unlock()
	k.log.Debug("module started", "module", name, "duration", time.Since(began))
	if f, ok := svc.(Failer); ok {
		go k.watch(inst, f)
	}
	return nil
}

// watch forwards a running service's failure to Run.
func (k *Kernel) watch(inst *instance, f Failer) {
	err, ok := <-f.Failed()
	if !ok || err == nil {
		return
	}
	k.mu.Lock()
	running := inst.state == StateRunning
	k.mu.Unlock()
	if !running {
		return // failures while stopping are Stop's to report
	}
	k.setState(inst, StateFailed)
	select {
	case k.failed <- fmt.Errorf("kernel: %s failed: %w", inst.name, err):
	default:
	}
}

// Stop stops every started module in reverse start order. All modules are
// marked stopping first, so readiness turns false at once and load
// balancers stop sending traffic while in-flight requests drain.
func (k *Kernel) Stop(ctx context.Context) error {
	k.markStopping()
	k.mu.Lock()
	started := append([]*instance(nil), k.started...)
	k.mu.Unlock()

	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		inst := started[i]
		if !inst.ran || inst.state == StateStopped {
			continue // never started, or already stopped: nothing to release
		}
		began := time.Now()
		if err := inst.svc.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kernel: stopping %s: %w", inst.name, err))
		}
		k.setState(inst, StateStopped)
		k.log.Debug("module stopped", "module", inst.name, "duration", time.Since(began))
	}
	return errors.Join(errs...)
}

// Run starts targets, then waits and stops as WaitAndStop does.
func (k *Kernel) Run(ctx context.Context, targets []string, stopTimeout time.Duration) error {
	if err := k.Start(ctx, targets, stopTimeout); err != nil {
		return err
	}
	return k.WaitAndStop(ctx, stopTimeout)
}

// WaitAndStop waits until ctx is done (a signal) or a started module
// fails, then stops everything within stopTimeout. It returns nil after a
// clean stop on request, and the reason otherwise.
func (k *Kernel) WaitAndStop(ctx context.Context, stopTimeout time.Duration) error {
	var cause error
	select {
	case <-ctx.Done():
		k.log.Info("stopping", "reason", context.Cause(ctx), "drain_timeout", stopTimeout)
	case cause = <-k.failed:
		k.log.Error("stopping after a failure", "err", cause)
	}
	if k.StopDelay > 0 && cause == nil {
		// Unready but still serving, while load balancers notice.
		k.markStopping()
		time.Sleep(k.StopDelay)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return errors.Join(cause, k.Stop(stopCtx))
}

// markStopping turns every running module's readiness false.
func (k *Kernel) markStopping() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, inst := range k.started {
		if inst.state == StateRunning {
			inst.state = StateStopping
		}
	}
}

func (k *Kernel) setState(inst *instance, s State) {
	k.mu.Lock()
	inst.state = s
	k.mu.Unlock()
}
