package loadtest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/loadtest"
)

func TestRunStopsWithContextAndBoundsInFlight(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // slower than the rate asks: the generator must not pile up connections
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	rep, err := loadtest.Run(ctx, loadtest.Options{URL: srv.URL, Rate: 5000, Duration: time.Minute, Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("ran %v after its context ended", took)
	}
	if m := most.Load(); m > 3 {
		t.Errorf("%d requests in flight at once, want at most 3", m)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "p99.9") || rep.Requests == 0 {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	for _, o := range []loadtest.Options{
		{URL: "127.0.0.1:8080"},
		{URL: "file:///etc/passwd"},
		{URL: "http://127.0.0.1:1/", Rate: -1},
		{URL: "http://127.0.0.1:1/", Rate: 0.4}, // rounds to 0: vegeta's "unlimited"
		{URL: "http://127.0.0.1:1/", Rate: 2e9}, // divides by zero in vegeta's pacer
	} {
		if _, err := loadtest.Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
