package platform_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/testenv"
)

// testConfig is a process on free loopback ports with a private data dir.
func testConfig(t *testing.T) config.Config {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// slowService serves /slow, which blocks until released.
type slowService struct {
	*kernel.HTTPServer
	entered, release chan struct{}
}

func newSlowService(log *slog.Logger) *slowService {
	s := &slowService{entered: make(chan struct{}, 1), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		s.entered <- struct{}{}
		<-s.release
		io.WriteString(w, "done")
	})
	s.HTTPServer = &kernel.HTTPServer{Name: "slow", Addr: "127.0.0.1:0", Handler: mux, Log: log}
	return s
}

// TestGracefulStop stops a running process (as SIGTERM does) while a slow
// request is in flight: readiness turns 503 at once, the request finishes,
// new connections are refused, and Run returns nil.
func TestGracefulStop(t *testing.T) {
	slow := newSlowService(quiet())
	spec := platform.Spec{Name: "slow", Deps: []string{platform.ModuleBus},
		New: func(context.Context, *platform.Platform) (kernel.Service, error) { return slow, nil }}
	p, err := platform.New(testConfig(t), quiet(), "test", spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	var slowURL string
	testenv.WaitFor(t, 10*time.Second, "the platform to be ready", func() bool {
		slowURL = slow.BoundAddr()
		return slowURL != "" && kernel.Ready(p.Kernel.Readiness(t.Context()))
	})
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + slowURL + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-slow.entered

	stop() // what SIGTERM does through signal.NotifyContext
	testenv.WaitFor(t, 10*time.Second, "the platform to turn unready", func() bool { return !kernel.Ready(p.Kernel.Readiness(t.Context())) })
	testenv.WaitFor(t, 10*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", slowURL, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(slow.release)
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q, want it to finish", body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after a requested stop", err)
	}
}

func TestUnknownServiceIsAStartupError(t *testing.T) {
	cfg := testConfig(t)
	cfg.Services = []string{"auht"}
	p, err := platform.New(cfg, quiet(), "test")
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), `unknown service "auht"`) {
		t.Fatalf("Run = %v", err)
	}
}
