package kernel

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Status is one module's readiness.
type Status struct {
	Module string `json:"module"`
	State  State  `json:"state"`
	Ready  bool   `json:"ready"`
	Error  string `json:"error,omitempty"`
}

// readyTimeout bounds each module's readiness check, so one hung
// dependency cannot hang the probe.
const readyTimeout = 2 * time.Second

// Readiness checks every started module concurrently. A module is ready
// when it is running and its ReadyChecker, if any, answers nil.
func (k *Kernel) Readiness(ctx context.Context) []Status {
	k.mu.Lock()
	type snap struct {
		name  string
		svc   Service
		state State
	}
	snaps := make([]snap, len(k.started))
	for i, inst := range k.started {
		snaps[i] = snap{inst.name, inst.svc, inst.state}
	}
	k.mu.Unlock()

	out := make([]Status, len(snaps))
	var wg sync.WaitGroup
	for i, s := range snaps {
		out[i] = Status{Module: s.name, State: s.state}
		if s.state != StateRunning {
			out[i].Error = fmt.Sprintf("module is %s", s.state)
			continue
		}
		rc, ok := s.svc.(ReadyChecker)
		if !ok {
			out[i].Ready = true
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			if err := rc.Ready(cctx); err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Ready = true
		})
	}
	wg.Wait()
	return out
}

// Ready reports whether every started module is ready, and at least one
// module has started.
func Ready(statuses []Status) bool {
	for _, s := range statuses {
		if !s.Ready {
			return false
		}
	}
	return len(statuses) > 0
}
