package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the bam executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	if addr := os.Getenv(replicaEnv); addr != "" {
		serveReplica(addr) // a replica process of TestGatewayResilience
	}
	dir, err := os.MkdirTemp("", "bam-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "bam")
	build := exec.Command("go", "build", "-o", binary, "../cmd/bam")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building bam:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running bam process whose JSON log lines are collected.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, once done is closed

	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
}

// run executes bam to completion and returns its combined output.
func run(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start launches bam with JSON logs on free ports and a fresh data dir.
func start(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"serve", "--log-format=json", "--data-dir=" + filepath.Join(dir, "data"),
		"--ops-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0"}, args...)
	p := &proc{t: t, cmd: exec.Command(binary, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.collect(stderr)
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// cleanEnv keeps the test's BAM_* settings from leaking into the process.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BAM_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		_ = json.Unmarshal(sc.Bytes(), &line)
		p.mu.Lock()
		p.raw.Write(sc.Bytes())
		p.raw.WriteByte('\n')
		if line != nil {
			p.lines = append(p.lines, line)
		}
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// waitLog waits for a log line with msg whose attributes include attrs.
func (p *proc) waitLog(msg string, attrs map[string]string, timeout time.Duration) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, l := range p.lines {
			if l["msg"] == msg && matches(l, attrs) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			p.t.Fatalf("bam exited (%v) before logging %q:\n%s", p.err, msg, p.output())
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.t.Fatalf("no %q log line within %s:\n%s", msg, timeout, p.output())
	return nil
}

func matches(line map[string]any, attrs map[string]string) bool {
	for k, v := range attrs {
		if fmt.Sprint(line[k]) != v {
			return false
		}
	}
	return true
}

// opsURL is the ops server's base URL, read from its "listening" line.
func (p *proc) opsURL() string {
	return fmt.Sprint(p.waitLog("listening", map[string]string{"server": "ops"}, 10*time.Second)["addr"])
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (p *proc) stop(timeout time.Duration) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	return p.wait(timeout)
}

func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("bam did not exit within %s:\n%s", timeout, p.output())
		return nil
	}
}

// get fetches url and returns status and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
