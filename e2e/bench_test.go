package e2e_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkColdStart measures `bam serve` from exec to a 200 on /readyz
// (target: under 1 s), and the resident memory of the idle process a
// second later (target: under 60 MB).
//
//	go test ./e2e -run '^$' -bench ColdStart -benchtime 5x
func BenchmarkColdStart(b *testing.B) {
	var rss float64
	for b.Loop() {
		began := time.Now()
		p := start(b, nil)
		ops := p.opsURL()
		for {
			if code, _ := get(b, ops+"/readyz"); code == 200 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(time.Since(began).Milliseconds()), "ms-to-ready")
		b.StopTimer()
		time.Sleep(time.Second)
		rss = rssMB(b, p.cmd.Process.Pid)
		if err := p.stop(30 * time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(rss, "idle-RSS-MB")
}

// rssMB reads a process's resident set size from /proc.
func rssMB(b *testing.B, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
