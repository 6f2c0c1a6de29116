package ops_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/ops"
)

func TestEndpoints(t *testing.T) {
	statuses := []kernel.Status{{Module: "ops", State: kernel.StateRunning, Ready: true}}
	ready := func(context.Context) []kernel.Status { return statuses }
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	srv := httptest.NewServer(ops.Handler(ready, reg, "v1.2.3"))
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"version":"v1.2.3"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, lacks go_goroutines", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d while ready", code)
	}

	statuses = append(statuses, kernel.Status{Module: "bus", State: kernel.StateRunning, Error: "nats: no servers available"})
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while bus is down", code)
	}
	var got struct {
		Ready   bool
		Modules []kernel.Status
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Ready || got.Modules[1].Module != "bus" || got.Modules[1].Error == "" {
		t.Errorf("/readyz body = %s; want it to name bus", body)
	}
}
