package platform_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/testenv"
)

// laneService answers every request with where it was served: "lane" in
// the fast lane, "net/http" otherwise; /stream is a stream (Streamer).
type laneService struct{}

func (laneService) Start(context.Context) error { return nil }
func (laneService) Stop(context.Context) error  { return nil }
func (laneService) Streams(path []byte) bool    { return bytes.HasPrefix(path, []byte("/stream")) }
func (laneService) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := fastlane.WriterOf(w); ok {
			io.WriteString(w, "lane")
			return
		}
		io.WriteString(w, "net/http")
	})
}

// TestServiceListenerLane: a service on its own listener serves in the
// fast lane, but for the paths it declares streams; with http.fast_lane
// off, net/http serves everything.
func TestServiceListenerLane(t *testing.T) {
	for _, tc := range []struct {
		lane              bool
		plain, streamWant string
	}{{true, "lane", "net/http"}, {false, "net/http", "net/http"}} {
		cfg := testConfig(t)
		cfg.HTTP.FastLane = tc.lane
		cfg.Services = []string{"lanes"}
		addr := testenv.FreeAddr(t)
		spec := platform.Spec{Name: "lanes", Addr: addr, Upstream: "http://" + addr, Routes: []string{"/v1/lanes/"},
			New: func(context.Context, *platform.Platform) (kernel.Service, error) { return laneService{}, nil }}
		stop := start(t, cfg, spec)
		get := func(path string) string {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp, err := http.Get("http://" + addr + path)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					return string(b)
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET %s: %v", path, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if got := get("/v1/lanes/x"); got != tc.plain {
			t.Errorf("fast_lane %v: /v1/lanes/x served by %s, want %s", tc.lane, got, tc.plain)
		}
		if got := get("/stream/x"); got != tc.streamWant {
			t.Errorf("fast_lane %v: /stream/x served by %s, want %s", tc.lane, got, tc.streamWant)
		}
		stop()
	}
}
