package kernel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/testenv"
)

// recorder notes lifecycle events across fake modules, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

type fake struct {
	name     string
	rec      *recorder
	startErr error
	ready    error
	failed   chan error
}

func (f *fake) Start(context.Context) error {
	if f.startErr != nil {
		return f.startErr
	}
	f.rec.add("start " + f.name)
	return nil
}

func (f *fake) Stop(context.Context) error { f.rec.add("stop " + f.name); return nil }

func (f *fake) Ready(context.Context) error { return f.ready }

func (f *fake) Failed() <-chan error { return f.failed }

func module(rec *recorder, name string, deps ...string) (kernel.Module, *fake) {
	f := &fake{name: name, rec: rec, failed: make(chan error, 1)}
	return kernel.Module{Name: name, Deps: deps, Init: func(context.Context) (kernel.Service, error) {
		return f, nil
	}}, f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newKernel(t *testing.T, mods ...kernel.Module) *kernel.Kernel {
	t.Helper()
	k, err := kernel.New(quiet(), mods...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestResolve(t *testing.T) {
	rec := &recorder{}
	ops, _ := module(rec, "ops")
	bus, _ := module(rec, "bus")
	auth, _ := module(rec, "auth", "bus")
	content, _ := module(rec, "content", "bus", "auth")
	all := kernel.Module{Name: "all", Deps: []string{"auth", "content"}}
	k := newKernel(t, ops, bus, auth, content, all)

	tests := []struct {
		targets []string
		want    string
		err     string
	}{
		{[]string{"ops", "all"}, "ops bus auth content all", ""},
		{[]string{"content"}, "bus auth content", ""},
		{[]string{"auth", "content", "auth"}, "bus auth content", ""},
		{[]string{" auth"}, "bus auth", ""},
		{[]string{"files"}, "", `unknown service "files" (known: all, auth, bus, content, ops)`},
		{nil, "", "no services requested"},
	}
	for _, tt := range tests {
		order, err := k.Resolve(tt.targets)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Resolve(%v) error = %v, want %q", tt.targets, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(order, " ") != tt.want {
			t.Errorf("Resolve(%v) = %v, %v; want %s", tt.targets, order, err, tt.want)
		}
	}
}

func TestResolveAfter(t *testing.T) {
	rec := &recorder{}
	auth, _ := module(rec, "auth")
	content, _ := module(rec, "content")
	gw, _ := module(rec, "gateway")
	gw.After = []string{"auth", "content"}
	k := newKernel(t, gw, auth, content)
	for targets, want := range map[string]string{
		"gateway auth":         "auth gateway",         // ordered after what runs with it
		"gateway":              "gateway",              // without pulling it in
		"gateway content auth": "auth content gateway", // After order, then targets
	} {
		order, err := k.Resolve(strings.Fields(targets))
		if err != nil || strings.Join(order, " ") != want {
			t.Errorf("Resolve(%s) = %v, %v; want %s", targets, order, err, want)
		}
	}
	loop, _ := module(rec, "loop")
	loop.After = []string{"gateway"}
	gw.Deps = []string{"loop"}
	k = newKernel(t, gw, auth, content, loop)
	if _, err := k.Resolve([]string{"gateway"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("After cycle not reported: %v", err)
	}
}

func TestResolveCycle(t *testing.T) {
	rec := &recorder{}
	a, _ := module(rec, "a", "b")
	b, _ := module(rec, "b", "c")
	c, _ := module(rec, "c", "a")
	k := newKernel(t, a, b, c)
	_, err := k.Resolve([]string{"a"})
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> c -> a") {
		t.Fatalf("err = %v, want the cycle named", err)
	}
}

func TestNewRejectsBadRegistry(t *testing.T) {
	rec := &recorder{}
	a, _ := module(rec, "a", "ghost")
	if _, err := kernel.New(quiet(), a); err == nil || !strings.Contains(err.Error(), `unknown module "ghost"`) {
		t.Errorf("err = %v", err)
	}
	b, _ := module(rec, "b")
	if _, err := kernel.New(quiet(), b, b); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("err = %v", err)
	}
}

func TestStartStopOrder(t *testing.T) {
	rec := &recorder{}
	db, _ := module(rec, "db")
	bus, _ := module(rec, "bus")
	svc, _ := module(rec, "svc", "db", "bus")
	k := newKernel(t, db, bus, svc)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- k.Run(ctx, []string{"svc"}, time.Second) }()
	testenv.WaitFor(t, 5*time.Second, "all three modules to start", func() bool { return len(rec.list()) == 3 })
	if !kernel.Ready(k.Readiness(t.Context())) {
		t.Errorf("not ready after start: %+v", k.Readiness(t.Context()))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after a requested stop", err)
	}
	want := "start db|start bus|start svc|stop svc|stop bus|stop db"
	if got := strings.Join(rec.list(), "|"); got != want {
		t.Errorf("lifecycle = %s\nwant        %s", got, want)
	}
}

func TestFailedStartStopsStartedModules(t *testing.T) {
	rec := &recorder{}
	db, _ := module(rec, "db")
	bus, _ := module(rec, "bus")
	broken, f := module(rec, "broken", "db", "bus")
	f.startErr = errors.New("port 8081 is taken")
	never, _ := module(rec, "never", "broken")
	k := newKernel(t, db, bus, broken, never)

	err := k.Run(t.Context(), []string{"never"}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "starting broken: port 8081 is taken") {
		t.Fatalf("Run = %v, want the failing module and reason", err)
	}
	want := "start db|start bus|stop bus|stop db"
	if got := strings.Join(rec.list(), "|"); got != want {
		t.Errorf("lifecycle = %s, want %s", got, want)
	}
}

func TestFailingInitIsReported(t *testing.T) {
	rec := &recorder{}
	db, _ := module(rec, "db")
	bad := kernel.Module{Name: "bad", Deps: []string{"db"}, Init: func(context.Context) (kernel.Service, error) {
		return nil, errors.New("no config")
	}}
	k := newKernel(t, db, bad)
	err := k.Start(t.Context(), []string{"bad"}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "starting bad: no config") {
		t.Fatalf("Start = %v", err)
	}
	if got := strings.Join(rec.list(), "|"); got != "start db|stop db" {
		t.Errorf("lifecycle = %s", got)
	}
}

func TestRunningFailureStopsProcess(t *testing.T) {
	rec := &recorder{}
	db, _ := module(rec, "db")
	svc, f := module(rec, "svc", "db")
	k := newKernel(t, db, svc)
	done := make(chan error)
	go func() { done <- k.Run(t.Context(), []string{"svc"}, time.Second) }()
	testenv.WaitFor(t, 5*time.Second, "both modules to start", func() bool { return len(rec.list()) == 2 })
	f.failed <- errors.New("listener died")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "svc failed: listener died") {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after a module failed")
	}
	if got := strings.Join(rec.list(), "|"); got != "start db|start svc|stop svc|stop db" {
		t.Errorf("lifecycle = %s", got)
	}
}

func TestReadinessNamesWhatIsNotReady(t *testing.T) {
	rec := &recorder{}
	db, f := module(rec, "db")
	svc, _ := module(rec, "svc", "db")
	k := newKernel(t, db, svc)
	if err := k.Start(t.Context(), []string{"svc"}, time.Second); err != nil {
		t.Fatal(err)
	}
	defer k.Stop(context.Background())
	f.ready = errors.New("connection refused")
	st := k.Readiness(t.Context())
	if kernel.Ready(st) {
		t.Fatal("ready while db is not")
	}
	if st[0].Module != "db" || st[0].Error != "connection refused" || !st[1].Ready {
		t.Errorf("statuses = %+v", st)
	}
}

// TestStopDelay: during the stop delay the process is unready but its
// modules still run; then they stop.
func TestStopDelay(t *testing.T) {
	rec := &recorder{}
	svc, _ := module(rec, "svc")
	k := newKernel(t, svc)
	k.StopDelay = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- k.Run(ctx, []string{"svc"}, time.Second) }()
	testenv.WaitFor(t, 5*time.Second, "the module to start", func() bool { return len(rec.list()) == 1 })
	cancel()
	testenv.WaitFor(t, 5*time.Second, "the kernel to turn unready", func() bool { return !kernel.Ready(k.Readiness(t.Context())) })
	if got := strings.Join(rec.list(), "|"); got != "start svc" {
		t.Fatalf("modules stopped before the delay: %s", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.list(), "|"); got != "start svc|stop svc" {
		t.Fatalf("lifecycle = %s", got)
	}
}
