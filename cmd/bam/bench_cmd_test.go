package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bamhq/bam/internal/loadtest"
)

func TestBench(t *testing.T) {
	var hits, authed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") == "Bearer t0k" && r.Method == http.MethodPost {
			if b, _ := io.ReadAll(r.Body); string(b) == `{"a":1}` {
				authed.Add(1)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		cmd := newRootCmd()
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"bench"}, args...))
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}

	t.Run("rate table", func(t *testing.T) {
		out, _, err := run("--rate", "200", "--duration", "1s", "--connections", "4", "-X", "post",
			"-H", "Authorization: Bearer t0k", "--body", `{"a":1}`, srv.URL+"/x")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"req/s ok", "success     100.00%", "p50", "p90", "p99", "p99.9", "max", "200×"} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		if n := authed.Load(); n < 150 || n != hits.Load() {
			t.Errorf("%d of %d requests carried the header and body, want all of ~200", n, hits.Load())
		}
	})

	t.Run("max json with progress", func(t *testing.T) {
		out, progress, err := run("--max", "--duration", "1s", "--connections", "4", "--json", srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var rep loadtest.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if rep.Requests < 100 || rep.Success != 1 || rep.P99 <= 0 || rep.P999 < rep.P99 || rep.Max < rep.P999 {
			t.Errorf("implausible report %+v", rep)
		}
		if progress != "" {
			t.Errorf("progress for a 1 s run: %q", progress)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{srv.URL},                            // neither --rate nor --max
			{"--rate", "10", "--max", srv.URL},   // both
			{"--rate", "10", "ftp://127.0.0.1/"}, // not http
			{"--rate", "10", "-H", "nocolon", srv.URL},
		} {
			if _, _, err := run(args...); err == nil {
				t.Errorf("bench %v: no error", args)
			}
		}
	})
}
