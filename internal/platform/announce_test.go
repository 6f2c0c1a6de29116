package platform_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/testenv"
)

// echo is a toy service answering GET /v1/echo/ with its replica's name.
type echo struct{ replica string }

func (echo) Start(context.Context) error { return nil }
func (echo) Stop(context.Context) error  { return nil }
func (e echo) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, e.replica) })
}

func echoSpec(name, replica, addr string) platform.Spec {
	return platform.Spec{
		Name: name, Deps: []string{platform.ModuleBus}, Routes: []string{"/v1/echo/"}, Addr: addr,
		New: func(context.Context, *platform.Platform) (kernel.Service, error) { return echo{replica}, nil },
	}
}

// start runs a platform until the returned stop is called (or the test ends).
func start(t *testing.T, cfg config.Config, specs ...platform.Spec) (stop func()) {
	t.Helper()
	p, err := platform.New(cfg, quiet(), "test", specs...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("platform stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestBusDiscovery: two replicas of a service announce themselves on a
// shared bus; a gateway with no static URL for the service finds both, and
// when one stops (saying goodbye) it is dropped with no failed request.
func TestBusDiscovery(t *testing.T) {
	shared, err := bus.Open(t.Context(), bus.Options{Listen: testenv.FreeAddr(t), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	name := bustest.ServiceName()
	conf := func(services ...string) config.Config {
		cfg := testConfig(t)
		cfg.Services = services
		cfg.NATS.URL = shared.URL()
		cfg.Gateway.AnnounceInterval = 200 * time.Millisecond
		cfg.Gateway.RateLimit.RPS = 0
		return cfg
	}
	stopA := start(t, conf(name), echoSpec(name, "a", "127.0.0.1:0"))
	start(t, conf(name), echoSpec(name, "b", "127.0.0.1:0"))
	gw := conf(platform.ModuleGateway)
	gw.HTTP.Addr = testenv.FreeAddr(t)
	start(t, gw, echoSpec(name, "", ""))

	get := func() (string, int) {
		resp, err := http.Get("http://" + gw.HTTP.Addr + "/v1/echo/")
		if err != nil {
			return err.Error(), 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.StatusCode
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for !(seen["a"] && seen["b"]) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway reached only %v", seen)
		}
		if body, code := get(); code == http.StatusOK {
			seen[body] = true
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Replica a stops while requests flow: none may fail.
	failed := make(chan string, 1000)
	flowing := make(chan struct{})
	go func() {
		defer close(flowing)
		for range 300 {
			if body, code := get(); code != http.StatusOK {
				failed <- body
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	stopA()
	<-flowing
	close(failed)
	for body := range failed {
		t.Errorf("request failed while a replica left: %s", body)
	}
	for range 20 {
		if body, code := get(); code != http.StatusOK || body != "b" {
			t.Fatalf("after a left: %d %q, want 200 from b", code, body)
		}
	}
}
