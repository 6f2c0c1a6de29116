package e2e_test

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServe starts the whole backend on embedded defaults, probes the ops
// endpoints, and stops it with SIGTERM.
func TestServe(t *testing.T) {
	p := start(t, nil)
	ops := p.opsURL()
	p.waitLog("bam is ready", nil, 10*time.Second)

	if code, body := get(t, ops+"/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, ops+"/readyz"); code != 200 || !strings.Contains(body, `"module":"bus"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
	code, body := get(t, ops+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("/metrics = %d, lacks runtime metrics", code)
	}
	gw := fmt.Sprint(p.waitLog("listening", map[string]string{"server": "gateway"}, 10*time.Second)["addr"])
	if code, body := get(t, gw+"/v1/nowhere"); code != 404 || !strings.Contains(body, `"code":"gateway.route_not_found"`) {
		t.Errorf("gateway /v1/nowhere = %d %s", code, body)
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
	}
	p.waitLog("stopping", map[string]string{"reason": "terminated signal received"}, time.Second)
}

// TestServeFailsClearly covers start-up failures: the process exits
// non-zero and says why.
func TestServeFailsClearly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"ops port taken", nil, []string{"serve", "--ops-addr=" + taken.Addr().String()},
			[]string{"starting ops", "address already in use"}},
		{"unknown service", nil, []string{"serve", "--ops-addr=127.0.0.1:0", "--services=nope"},
			[]string{`unknown service "nope"`, "known:"}},
		{"bad config value", []string{"BAM_SHUTDOWN_TIMEOUT=soon"}, []string{"serve"},
			[]string{`shutdown_timeout = "soon"`, "a duration"}},
		{"unreachable external NATS", nil, []string{"serve", "--ops-addr=127.0.0.1:0", "--nats-url=nats://127.0.0.1:1"},
			[]string{"starting bus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.env, append(tt.args, "--data-dir="+t.TempDir())...)
			if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() == 0 {
				t.Fatalf("exit = %v, want non-zero\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCommands(t *testing.T) {
	out, err := run(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "bam ") {
		t.Errorf("version: %v %q", err, out)
	}
	out, err = run(t, []string{"BAM_DATABASE_URL=postgres://bam:hunter2@db.example:5432/bam"}, "config", "print", "--log-level=debug")
	if err != nil || !strings.Contains(out, "level: debug") || !strings.Contains(out, "bam:*****@db.example") || strings.Contains(out, "hunter2") {
		t.Errorf("config print: %v\n%s", err, out)
	}
	out, err = run(t, nil, "migrate", "status")
	if err != nil {
		t.Errorf("migrate status: %v\n%s", err, out)
	}
}
