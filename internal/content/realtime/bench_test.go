package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/realtime"
)

// fanout is the number of subscribers of the fan-out benchmarks.
const fanout = 10_000

// probe measures how long one Publish takes to reach every subscriber.
type probe struct {
	t0      atomic.Int64 // UnixNano of the Publish
	pending atomic.Int64
	done    chan struct{}
	lat     []time.Duration // this round, per subscriber
	all     []time.Duration
}

func newProbe(n int) *probe {
	return &probe{done: make(chan struct{}, 1), lat: make([]time.Duration, n)}
}

// received records subscriber i's delivery.
func (p *probe) received(i int) {
	p.lat[i] = time.Duration(time.Now().UnixNano() - p.t0.Load())
	if p.pending.Add(-1) == 0 {
		p.done <- struct{}{}
	}
}

// round publishes through publish and waits until every subscriber got it.
func (p *probe) round(b *testing.B, publish func()) {
	p.pending.Store(int64(len(p.lat)))
	p.t0.Store(time.Now().UnixNano())
	publish()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		b.Fatalf("%d subscribers did not get the change", p.pending.Load())
	}
	p.all = append(p.all, p.lat...)
}

func (p *probe) report(b *testing.B) {
	slices.Sort(p.all)
	at := func(q float64) float64 {
		return float64(p.all[int(q*float64(len(p.all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}

// memory is the process's heap, stacks and resident size.
type memory struct{ heap, stack, rss uint64 }

func measure() memory {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memory{heap: m.HeapAlloc, stack: m.StackInuse, rss: rss()}
}

// rss reads VmRSS from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// reportPerConn reports the growth from before to m per connection; RSS
// only when asked (it means little where the runtime returned memory).
func (m memory) reportPerConn(b *testing.B, before memory, n int, withRSS bool) {
	per := func(after, before uint64) float64 { return float64(int64(after)-int64(before)) / float64(n) }
	b.ReportMetric(per(m.heap, before.heap), "heap-B/conn")
	b.ReportMetric(per(m.stack, before.stack), "stack-B/conn")
	if withRSS {
		b.ReportMetric(per(m.rss, before.rss), "rss-B/conn")
	}
}

// raiseFileLimit lifts RLIMIT_NOFILE to at least n.
func raiseFileLimit(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= n {
		return nil
	}
	l.Cur, l.Max = n, max(l.Max, n)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// Environment of the subscriber process of BenchmarkFanout10k.
const (
	childAddrVar = "BAM_REALTIME_FANOUT_ADDR"
	childNVar    = "BAM_REALTIME_FANOUT_N"
)

// BenchmarkFanout10k publishes to 10,000 SSE subscribers connected over
// real loopback TCP connections to an httptest server, and measures the
// time from Publish to each client parsing the event. The subscribers run
// in a child process (this test binary, TestFanoutChild), because both
// ends in one process would need more descriptors than RLIMIT_NOFILE's
// hard limit allows here; so the memory per connection is the server's
// alone. Latency is wall clock: the publish time travels in the record.
func BenchmarkFanout10k(b *testing.B) {
	if err := raiseFileLimit(fanout + 1024); err != nil {
		b.Skipf("cannot open %d sockets: %v", fanout, err)
	}
	hub, srv := newServer(b, realtime.Options{Heartbeat: time.Hour, MaxConnectionsPerSubject: -1})
	before := measure()

	cmd := exec.Command(os.Args[0], "-test.run=^TestFanoutChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childAddrVar+"="+srv.Listener.Addr().String(), childNVar+"="+strconv.Itoa(fanout))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return rest
			}
		}
		b.Fatalf("the subscriber process ended before %q: %v", prefix, lines.Err())
		return ""
	}
	expect("ready")
	after := measure()

	seq := uint64(0)
	for b.Loop() {
		seq++
		hub.Publish(change(seq, "posts", "p1", "public", true, "title", "hello", "t0", time.Now().UnixNano()))
		expect("done")
	}
	_ = stdin.Close()
	var p50, p99, maxLat float64
	if _, err := fmt.Sscan(expect("result"), &p50, &p99, &maxLat); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(maxLat, "max-ms")
	after.reportPerConn(b, before, fanout, true)
}

// TestFanoutChild is BenchmarkFanout10k's subscriber process; it skips
// unless the benchmark started it. It connects N subscribers, says
// "ready", says "done" whenever all N got a change, and on end of input
// prints "result <p50> <p99> <max>" (milliseconds).
func TestFanoutChild(t *testing.T) {
	addr := os.Getenv(childAddrVar)
	if addr == "" {
		t.Skip("run by BenchmarkFanout10k")
	}
	n, _ := strconv.Atoi(os.Getenv(childNVar))
	if err := raiseFileLimit(uint64(n) + 1024); err != nil {
		t.Fatal(err)
	}
	lat := make([]time.Duration, n)
	var all []time.Duration
	var pending atomic.Int64
	pending.Store(int64(n))
	got := func(i int, data []byte) {
		at := bytes.Index(data, []byte(`"t0":`))
		end := bytes.IndexAny(data[at+5:], ",}")
		t0, _ := strconv.ParseInt(string(data[at+5:at+5+end]), 10, 64)
		lat[i] = time.Duration(time.Now().UnixNano() - t0)
		if pending.Add(-1) == 0 {
			all = append(all, lat...)
			pending.Store(int64(n))
			fmt.Println("done")
		}
	}
	conns := make([]net.Conn, n)
	work := make(chan int)
	var connected sync.WaitGroup
	connected.Add(n)
	for range 16 {
		go func() {
			for i := range work {
				c, err := dialSubscriber(addr, i, got)
				if err != nil {
					t.Error(err)
				}
				conns[i] = c
				connected.Done()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	connected.Wait()
	if t.Failed() {
		return
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Println("result", ms(0.5), ms(0.99), ms(1))
}

// dialSubscriber opens subscriber i's SSE stream, reads up to its connect
// event, and leaves a goroutine passing the data line of each change to
// got.
func dialSubscriber(addr string, i int, got func(i int, data []byte)) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, _ = fmt.Fprintf(c, "GET /v1/realtime?subscribe=posts/* HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		_ = c.Close()
		return nil, fmt.Errorf("subscriber %d: %v %v", i, resp, err)
	}
	lines := bufio.NewReader(resp.Body)
	for {
		line, err := lines.ReadSlice('\n')
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		if bytes.HasPrefix(line, []byte("data: ")) {
			break // the connect event
		}
	}
	go func() {
		inChange := false
		for {
			line, err := lines.ReadSlice('\n')
			if err != nil {
				return
			}
			switch {
			case bytes.Equal(line, []byte("event: change\n")):
				inChange = true
			case inChange && bytes.HasPrefix(line, []byte("data: ")):
				inChange = false
				got(i, line)
			}
		}
	}()
	return c, nil
}

// BenchmarkFanout10kInMemory is BenchmarkFanout10k without sockets: each
// of 10,000 subscribers is the hub's own SSE handler writing to an
// in-memory ResponseWriter, so the memory per connection is the hub's
// (the handler's goroutine, its client state, the request) and the
// latency is the hub's fan-out and encoding alone.
func BenchmarkFanout10kInMemory(b *testing.B) {
	hub := realtime.NewHub(realtime.Options{Authorizer: testAuth{}, Logger: quietLogger(), Heartbeat: time.Hour,
		MaxConnectionsPerSubject: -1})
	defer hub.Close()
	p := newProbe(fanout)
	before := measure()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var connected sync.WaitGroup
	connected.Add(fanout)
	for i := range fanout {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/realtime?subscribe=posts/*", nil)
		w := &memWriter{header: http.Header{}, connected: connected.Done, change: func() { p.received(i) }}
		go hub.ServeHTTP(w, req)
	}
	connected.Wait()
	after := measure()

	seq := uint64(0)
	var publishing time.Duration // in Publish: matching and queueing
	for b.Loop() {
		seq++
		p.round(b, func() {
			began := time.Now()
			hub.Publish(change(seq, "posts", "p1", "public", true, "title", "hello"))
			publishing += time.Since(began)
		})
	}
	p.report(b)
	b.ReportMetric(float64(publishing.Microseconds())/1000/float64(b.N), "publish-ms")
	after.reportPerConn(b, before, fanout, false)
}

// memWriter is an in-memory SSE ResponseWriter; the hub writes the head
// of each event (up to "data: ") in one Write.
type memWriter struct {
	header    http.Header
	connected func()
	change    func()
}

func (w *memWriter) Header() http.Header { return w.header }
func (w *memWriter) WriteHeader(int)     {}
func (w *memWriter) Flush()              {}

func (w *memWriter) Write(b []byte) (int, error) {
	switch {
	case bytes.Contains(b, []byte("event: change\n")):
		w.change()
	case bytes.Contains(b, []byte("event: connect\n")):
		w.connected()
	}
	return len(b), nil
}
