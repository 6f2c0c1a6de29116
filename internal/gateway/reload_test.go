package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
	"github.com/bamhq/bam/internal/testenv"
)

// TestReloadUnderLoad: a real gateway under steady load while its config
// file is rewritten: no request on the stable route fails, the new route
// appears and goes, and a broken file is rejected with a logged reason
// while the previous table keeps serving.
func TestReloadUnderLoad(t *testing.T) {
	stable, extra := echoServer(t, "stable"), echoServer(t, "extra")
	path := filepath.Join(t.TempDir(), "bam.yaml")
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp" // written whole, then renamed: as editors do
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf("gateway:\n  rate_limit: {rps: 0}\n  routes:\n    - {path: /stable/, upstream: %s}\n", stable)
	withExtra := base + fmt.Sprintf("    - {path: /extra/, upstream: %s}\n", extra)
	write(base)

	var logs testenv.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	load := func() (config.Config, error) { return config.Load(config.Sources{File: path, Environ: []string{}}) }
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{Log: log}
	defer b.Close()
	g, err := b.New(c, gateway.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
	defer srv.Close()
	r := &gateway.Reloader{Gateway: g, Builder: b, Load: load, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gateway.WatchFile(ctx, path, 10*time.Millisecond, func() { _ = r.Reload(ctx) })

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(srv.URL + "/stable/x")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				ok.Add(1)
			}
		})
	}
	status := func(p string) int {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(p string, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for status(p) != want {
			if time.Now().After(deadline) {
				t.Fatalf("GET %s never became %d; log:\n%s", p, want, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	began := time.Now()
	for i := range 3 {
		write(withExtra)
		waitFor("/extra/y", 200)
		write(base)
		waitFor("/extra/y", 404)
		if i == 1 {
			write(base + "    - {path: broken, upstream: ftp://nowhere}\n")
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(logs.String(), "new configuration rejected") {
				if time.Now().After(deadline) {
					t.Fatal("broken config not rejected in the log")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if status("/stable/x") != 200 {
				t.Error("the old table stopped serving after a rejected config")
			}
		}
	}
	time.Sleep(max(0, 2*time.Second-time.Since(began)))
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 100 {
		t.Errorf("stable route: %d ok, %d failed", ok.Load(), failed.Load())
	}
	if l := logs.String(); !strings.Contains(l, "gateway.routes[1] (broken).path") {
		t.Errorf("the rejection does not name the route and key:\n%s", l)
	}
	t.Logf("%d requests on the stable route during reloads, none failed", ok.Load())
}

// TestReloadOnlyWhenChanged: the watcher's first check, a file rewritten
// with the same content and an edit of a comment reload nothing (no
// "configuration reloaded" line); an edit made after the configuration was
// loaded but before the watch began, and later real edits, are applied.
func TestReloadOnlyWhenChanged(t *testing.T) {
	up := echoServer(t, "up")
	path := filepath.Join(t.TempDir(), "bam.yaml")
	write := func(rps int, comment string) {
		t.Helper()
		yaml := fmt.Sprintf("# %s\ngateway:\n  rate_limit: {rps: %d, burst: %[2]d}\n  routes:\n    - {path: /up/, upstream: %s}\n", comment, rps, up)
		if err := os.WriteFile(path+".tmp", []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil { // whole, as editors write
			t.Fatal(err)
		}
	}
	var logs testenv.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	load := func() (config.Config, error) { return config.Load(config.Sources{File: path, Environ: []string{}}) }
	count := func(s string) int { return strings.Count(logs.String(), s) }
	waitFor := func(what, line string, n int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for count(line) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q not logged; log:\n%s", what, line, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// serve loads the file, builds a gateway from it, runs between, then
	// watches the file, as the platform does, until stop.
	serve := func(between func()) (g *gateway.Gateway, stop func()) {
		t.Helper()
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		b := &gateway.Builder{Log: log}
		t.Cleanup(func() { b.Close() })
		g, err = b.New(c, gateway.Options{Log: log, Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		between()
		r := &gateway.Reloader{Gateway: g, Builder: b, Load: load, Log: log}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { gateway.WatchFile(ctx, path, 10*time.Millisecond, func() { _ = r.Reload(ctx) }); close(done) }()
		stop = sync.OnceFunc(func() { cancel(); <-done })
		t.Cleanup(stop)
		return g, stop
	}
	limit := func(g *gateway.Gateway) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://gw/up/x", nil)
		g.ServeHTTP(rec, req)
		return rec.Header().Get("RateLimit-Limit")
	}

	write(10, "first")
	_, stop := serve(func() {})
	waitFor("the first check", "configuration unchanged", 1)
	write(10, "first") // the same bytes again: no check sees a change
	write(10, "only a comment changed")
	waitFor("the comment edit", "configuration unchanged", 2)
	time.Sleep(50 * time.Millisecond)
	if n := count("configuration reloaded"); n != 0 {
		t.Fatalf("%d reloads without a change; log:\n%s", n, logs.String())
	}
	write(20, "a real change")
	waitFor("the real change", "configuration reloaded", 1)
	stop()

	g, _ := serve(func() { write(40, "edited between the load and the watch") })
	waitFor("the edit made before the watch began", "configuration reloaded", 2)
	if got := limit(g); got != "40" {
		t.Errorf("RateLimit-Limit %q after the edit, want 40", got)
	}
}
