package loadtest_test

import (
	"bytes"
	"context"
	"net"
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
		{URL: "http://127.0.0.1:1/", Rate: 0.4}, // under one a second
		{URL: "http://127.0.0.1:1/", Rate: 2e9}, // past MaxRate
	} {
		if _, err := loadtest.Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestRunKeepsTheRate(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Bench") != "1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Add(1)
		if got.Load()%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	rep, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv.URL, Method: "post", Body: []byte("{}"),
		Header: http.Header{"X-Bench": {"1"}}, Rate: 400, Duration: time.Second, Connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 400 || got.Load() != 400 {
		t.Errorf("%d requests reported, %d received; want 400 at 400/s for 1 s", rep.Requests, got.Load())
	}
	if rep.Rate < 360 || rep.Rate > 440 {
		t.Errorf("sent at %.0f/s, want 400", rep.Rate)
	}
	if rep.StatusCodes["200"] != 300 || rep.StatusCodes["500"] != 100 || rep.Success != 0.75 {
		t.Errorf("codes %v, success %v; want 300×200 and 100×500, 0.75", rep.StatusCodes, rep.Success)
	}
}

// A target that stalls holds up the requests due meanwhile, and their
// latency counts that wait: measured from when they were sent, the stall
// would show in one request only (coordinated omission).
func TestRunCountsTheWaitOfRequestsDueDuringAStall(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if n.Add(1) == 10 {
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	rep, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv.URL, Rate: 100, Duration: time.Second, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 100/s on one connection: ~30 requests fall due during the 300 ms stall.
	if rep.P90 < 50*time.Millisecond || rep.Max < 290*time.Millisecond {
		t.Errorf("p90 %v, max %v: the requests due during a 300 ms stall did not count their wait", rep.P90, rep.Max)
	}
	if rep.P50 > 50*time.Millisecond {
		t.Errorf("p50 %v: most requests were not held up", rep.P50)
	}
}

func TestRunReportsRequestsThatGotNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { // accepts, reads a little, hangs up: no answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 64))
			c.Close()
		}
	}()
	defer ln.Close()
	rep, err := loadtest.Run(context.Background(), loadtest.Options{URL: "http://" + ln.Addr().String() + "/",
		Rate: 50, Duration: 200 * time.Millisecond, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Success != 0 || rep.StatusCodes["0"] != int(rep.Requests) || len(rep.Errors) == 0 {
		t.Errorf("success %v, codes %v, errors %q: want every request failed, with its error", rep.Success, rep.StatusCodes, rep.Errors)
	}
}

func TestRunSendsTheRequestAsGiven(t *testing.T) {
	var host, ctype atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		ctype.Store(r.Header.Values("Content-Type"))
	}))
	defer srv.Close()
	if _, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv.URL, Method: "PUT", Body: []byte("x"),
		Header: http.Header{"Host": {"api.example.com"}}, Rate: 20, Duration: 100 * time.Millisecond, Connections: 1}); err != nil {
		t.Fatal(err)
	}
	if h := host.Load(); h != "api.example.com" {
		t.Errorf("Host %v, want the one given", h)
	}
	if c := ctype.Load().([]string); len(c) != 0 {
		t.Errorf("Content-Type %q sent, none given", c)
	}
}

// A target slower than the rate asks does not stretch the run: what fell
// due and could not be sent by the end is not sent.
func TestRunEndsOnTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(10 * time.Millisecond) }))
	defer srv.Close()
	began := time.Now()
	rep, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv.URL, Rate: 400, Duration: 500 * time.Millisecond, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 1500*time.Millisecond || rep.Requests > 60 {
		t.Errorf("ran %v and sent %d requests for a 500 ms run on one connection to a 10 ms target", took, rep.Requests)
	}
}
