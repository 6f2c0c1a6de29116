package platform_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/testenv"
)

// TestConfigFileWatch runs a gateway whose configuration comes from a file,
// as `bam serve` does: nothing is reloaded at start (the watcher's first
// look at an unchanged file used to log "configuration reloaded" a second
// after start), and an edit is applied within a few seconds.
func TestConfigFileWatch(t *testing.T) {
	up := echoSpec("echo", "a", "")
	path := filepath.Join(t.TempDir(), "bam.yaml")
	write := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	base := testConfig(t)
	addr := testenv.FreeAddr(t)
	load := func() (config.Config, error) {
		c, err := config.Load(config.Sources{File: path, Environ: []string{}})
		c.DataDir, c.Ops.Addr, c.HTTP.Addr, c.ShutdownTimeout = base.DataDir, base.Ops.Addr, addr, base.ShutdownTimeout
		return c, err
	}
	write("gateway:\n  rate_limit: {rps: 10, burst: 10}\n")
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	p, err := platform.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)), "test", up)
	if err != nil {
		t.Fatal(err)
	}
	p.Reconfigure, p.ConfigFile = load, path
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("platform stopped with %v", err)
		}
	})
	limit := func() string {
		resp, err := http.Get("http://" + addr + "/v1/echo/")
		if err != nil {
			return ""
		}
		resp.Body.Close()
		return resp.Header.Get("RateLimit-Limit")
	}
	testenv.WaitFor(t, 10*time.Second, "rate limit 10", func() bool { return limit() == "10" })
	time.Sleep(2500 * time.Millisecond) // the watcher checks every second
	if strings.Contains(logs.String(), "configuration reloaded") {
		t.Fatalf("reloaded with no change to the file; log:\n%s", logs.String())
	}
	write("gateway:\n  rate_limit: {rps: 20, burst: 20}\n")
	testenv.WaitFor(t, 10*time.Second, "rate limit 20", func() bool { return limit() == "20" })
	if n := strings.Count(logs.String(), "configuration reloaded"); n != 1 {
		t.Errorf("%d reloads logged for one edit; log:\n%s", n, logs.String())
	}
}
