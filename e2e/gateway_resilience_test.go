package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/testenv"
)

// replicaEnv, set to an address, makes the e2e test binary a replica of
// TestGatewayResilience's upstream (see TestMain) instead of running tests:
// a separate process that can be killed and frozen like any service.
const replicaEnv = "BAM_E2E_REPLICA_ADDR"

// serveReplica answers every request with a little JSON until killed.
func serveReplica(addr string) {
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	fmt.Fprintln(os.Stderr, "replica:", err)
	os.Exit(1)
}

// resilienceTimeout is the route's timeout: an attempt that has no answer
// by then is given up and retried on another replica.
const resilienceTimeout = 300 * time.Millisecond

// TestGatewayResilience runs the gateway (the real binary,
// --services=gateway) in front of a route with three replica processes,
// under steady GET load, and takes the replicas away one way after
// another:
//
//  1. One is killed (SIGKILL): no GET fails — a refused connection is
//     retried on another replica.
//  2. One hangs (SIGSTOP: the kernel still accepts its connections, and
//     nothing answers): its requests time out and are retried on the last
//     replica, so none fails; it is ejected, and p99 comes back under the
//     timeout.
//  3. The last one is killed too: once the breaker opens, answers are fast
//     503 problem+json (gateway.circuit_open) rather than a wait for the
//     hung replica.
func TestGatewayResilience(t *testing.T) {
	addrs := testenv.FreeAddrs(t, 3)
	replicas := make([]*exec.Cmd, len(addrs))
	upstreams := make([]string, len(addrs))
	for i, addr := range addrs {
		replicas[i] = startReplica(t, addr)
		upstreams[i] = "http://" + addr
	}
	cfg := filepath.Join(t.TempDir(), "bam.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `gateway:
  rate_limit: {rps: 0}
  routes:
    - {path: /orders/, upstream: "%s", auth: none, timeout: %s, retries: 2}
`, strings.Join(upstreams, ","), resilienceTimeout), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := start(t, nil, "--services=gateway", "--config="+cfg)
	target := gw.gatewayURL() + "/orders/1"

	ld := startGetLoad(t, target, 8)
	defer ld.halt()
	begin := time.Now()
	time.Sleep(time.Second)

	// 1. A replica dies.
	killed := time.Now()
	kill(t, replicas[0])
	time.Sleep(1500 * time.Millisecond)
	t.Logf("one replica killed: %s", summary(ld.between(killed, time.Now())))

	// 2. A replica hangs.
	hung := time.Now()
	if err := replicas[1].Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	during := ld.between(hung, hung.Add(1200*time.Millisecond))
	after := ld.between(hung.Add(2*time.Second), time.Now())
	t.Logf("one replica hung: first 1.2 s %s; from 2 s on %s", summary(during), summary(after))
	if slowest(during) < resilienceTimeout {
		t.Errorf("no request waited for the %v timeout after a replica hung (slowest %v): the hang was not seen", resilienceTimeout, slowest(during))
	}
	if p := p99(after); p >= resilienceTimeout/2 {
		t.Errorf("p99 %v from 2 s after the hang; want it back under %v (the hung replica ejected)", p, resilienceTimeout/2)
	}
	gw.waitLog("upstream replica ejected", map[string]string{"target": upstreams[1]}, time.Second)
	if bad := failed(ld.between(begin, time.Now())); len(bad) > 0 {
		t.Errorf("%d GETs failed while one replica was dead and one hung; the first: %s", len(bad), bad[0])
	}

	// 3. All down: one hung, two dead.
	kill(t, replicas[2])
	fast := waitCircuitOpen(t, target, 10, 30*time.Second)
	t.Logf("all replicas down: the breaker answered 10 requests in a row in %v at most", fast)
}

// startReplica starts a replica process on addr and waits until it answers.
func startReplica(t *testing.T, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(cleanEnv(), replicaEnv+"="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(t, cmd) })
	testenv.WaitFor(t, 10*time.Second, "replica on "+addr, func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd
}

// kill ends cmd with SIGKILL, as a crash would (a stopped process too), and
// reaps it; a second kill of the same process does nothing.
func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// waitCircuitOpen sends GETs to url one at a time until n in a row are
// answered by the open breaker: 503, problem+json with the code
// gateway.circuit_open and a Retry-After, each well within the route's
// timeout. It returns the slowest of those n, and fails t if that does not
// happen within the deadline.
func waitCircuitOpen(t *testing.T, url string, n int, within time.Duration) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		streak  int
		slowest time.Duration
		last    string
	)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		from := time.Now()
		resp, err := client.Get(url)
		took := time.Since(from)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		var p struct{ Code string }
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(body, &p)
		last = fmt.Sprintf("%d %s %s in %v", resp.StatusCode, resp.Header.Get("Content-Type"), body, took)
		open := resp.StatusCode == http.StatusServiceUnavailable && p.Code == "gateway.circuit_open" &&
			resp.Header.Get("Content-Type") == "application/problem+json" && resp.Header.Get("Retry-After") != "" &&
			took < resilienceTimeout/2
		if !open {
			streak, slowest = 0, 0
			continue
		}
		streak++
		slowest = max(slowest, took)
		if streak == n {
			return slowest
		}
	}
	t.Fatalf("no %d fast circuit_open answers in a row within %v; the last: %s", n, within, last)
	return 0
}

// getResult is one GET of a getLoad.
type getResult struct {
	at     time.Time // when it was sent
	took   time.Duration
	status int // 0: no answer
	err    error
}

func (r getResult) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s after %v: %v", r.at.Format("15:04:05.000"), r.took, r.err)
	}
	return fmt.Sprintf("%s after %v: %d", r.at.Format("15:04:05.000"), r.took, r.status)
}

// getLoad sends GETs to one URL from several workers, each as soon as its
// last one is answered, and keeps every result.
type getLoad struct {
	mu      sync.Mutex
	results []getResult
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func startGetLoad(t *testing.T, url string, workers int) *getLoad {
	ld := &getLoad{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		ld.wg.Go(func() {
			for {
				select {
				case <-ld.stop:
					return
				default:
				}
				r := getResult{at: time.Now()}
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
				}
				r.took, r.err = time.Since(r.at), err
				ld.mu.Lock()
				ld.results = append(ld.results, r)
				ld.mu.Unlock()
			}
		})
	}
	t.Cleanup(ld.halt)
	return ld
}

// halt stops the workers and waits for their last requests.
func (ld *getLoad) halt() {
	ld.once.Do(func() { close(ld.stop) })
	ld.wg.Wait()
}

// between returns the results of the GETs sent from from to to.
func (ld *getLoad) between(from, to time.Time) []getResult {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var rs []getResult
	for _, r := range ld.results {
		if !r.at.Before(from) && r.at.Before(to) {
			rs = append(rs, r)
		}
	}
	return rs
}

// failed returns the results that are not a 200.
func failed(rs []getResult) []getResult {
	var bad []getResult
	for _, r := range rs {
		if r.err != nil || r.status != http.StatusOK {
			bad = append(bad, r)
		}
	}
	return bad
}

// p99 is the 99th percentile latency of rs (nearest rank), 0 for none.
func p99(rs []getResult) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = r.took
	}
	slices.Sort(ds)
	return ds[(len(ds)*99+99)/100-1]
}

func slowest(rs []getResult) time.Duration {
	var m time.Duration
	for _, r := range rs {
		m = max(m, r.took)
	}
	return m
}

func summary(rs []getResult) string {
	return fmt.Sprintf("%d GETs, %d failed, p99 %v, slowest %v", len(rs), len(failed(rs)), p99(rs), slowest(rs))
}
