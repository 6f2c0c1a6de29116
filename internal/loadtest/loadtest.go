// Package loadtest drives HTTP load at one target and summarises what came
// back: throughput, success ratio and latency percentiles. It is the engine
// of `bam bench`, built on vegeta's attacker; it only ever hits the URL it
// is given, and is meant for 127.0.0.1 and hosts you run yourself.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Options describe one run.
type Options struct {
	URL    string
	Method string // GET when empty
	Header http.Header
	Body   []byte
	// Rate is the requests per second to send; 0 sends as fast as
	// Connections workers can go (a closed loop: the saturation rate).
	Rate        float64
	Duration    time.Duration // 10 s when zero
	Connections int           // kept-alive connections and workers, the most requests in flight; 50 when zero
	Timeout     time.Duration // per request; 30 s when zero
	// Progress, when set, receives a line every ProgressEvery (2 s when
	// zero) while the run lasts longer than that.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Report is what a run measured.
type Report struct {
	Target                   string
	Requests                 uint64
	Duration                 time.Duration // from the first request sent to the last answer
	Rate                     float64       // requests sent per second
	Throughput               float64       // successful requests per second
	Success                  float64       // ratio of 2xx/3xx answers, 0..1
	P50, P90, P99, P999, Max time.Duration
	StatusCodes              map[string]int
	Errors                   []string
}

// MaxRate is the highest rate Run paces (requests/s).
const MaxRate = 10_000_000

// Run sends load as o describes until o.Duration passes or ctx ends.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.defaults(); err != nil {
		return Report{}, err
	}
	workers := uint64(o.Connections)
	// At most Connections requests in flight, in both modes: vegeta would
	// otherwise add a worker and a connection whenever the target falls
	// behind, and report the queue it built as the target's latency.
	opts := []func(*vegeta.Attacker){
		vegeta.Connections(o.Connections),
		vegeta.MaxConnections(o.Connections),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(workers),
		vegeta.Timeout(o.Timeout),
		vegeta.KeepAlive(true),
	}
	atk := vegeta.NewAttacker(opts...)
	tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: o.Method, URL: o.URL, Header: o.Header, Body: o.Body})
	pace := vegeta.ConstantPacer{Freq: int(o.Rate + 0.5), Per: time.Second}
	if o.Rate == 0 {
		pace = vegeta.ConstantPacer{} // unlimited
	}

	var m vegeta.Metrics
	var tick <-chan time.Time
	if o.Progress != nil && o.Duration > o.ProgressEvery {
		t := time.NewTicker(o.ProgressEvery)
		defer t.Stop()
		tick = t.C
	}
	began := time.Now()
	results := atk.Attack(tgt, pace, o.Duration, "bench")
	var last uint64
	lastAt := began
loop:
	for {
		select {
		case res, ok := <-results:
			if !ok {
				break loop
			}
			m.Add(res)
		case now := <-tick:
			fmt.Fprintf(o.Progress, "%5.1fs  %8d requests  %9.0f req/s now\n",
				now.Sub(began).Seconds(), m.Requests, float64(m.Requests-last)/now.Sub(lastAt).Seconds())
			last, lastAt = m.Requests, now
		case <-ctx.Done():
			atk.Stop()
			for res := range results { // drain: the attacker closes the channel once its workers end
				m.Add(res)
			}
			break loop
		}
	}
	m.Close()
	if m.Requests == 0 {
		return Report{}, errors.New("loadtest: no request completed")
	}
	codes := make(map[string]int, len(m.StatusCodes))
	for k, v := range m.StatusCodes {
		codes[k] = v
	}
	return Report{
		Target: o.Method + " " + o.URL, Requests: m.Requests, Duration: m.Duration + m.Wait,
		Rate: m.Rate, Throughput: m.Throughput, Success: m.Success,
		P50: m.Latencies.P50, P90: m.Latencies.P90, P99: m.Latencies.P99,
		P999: m.Latencies.Quantile(0.999), Max: m.Latencies.Max,
		StatusCodes: codes, Errors: m.Errors,
	}, nil
}

func (o *Options) defaults() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadtest: target %q: want an http:// or https:// URL", o.URL)
	}
	// The pacer counts whole requests per second: a rate that rounds to
	// 0 would be read as no limit, one past MaxRate divides by zero in it.
	if o.Rate < 0 || (o.Rate > 0 && o.Rate < 1) || o.Rate > MaxRate || o.Rate != o.Rate {
		return fmt.Errorf("loadtest: rate %v: want 0 (as fast as possible), or from 1 to %g requests/s", o.Rate, float64(MaxRate))
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	o.Method = strings.ToUpper(o.Method)
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Connections <= 0 {
		o.Connections = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
	}
	return nil
}

// WriteTable prints r as an aligned two-column table.
func (r Report) WriteTable(w io.Writer) error {
	codes := make([]string, 0, len(r.StatusCodes))
	for k, v := range r.StatusCodes {
		codes = append(codes, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(codes)
	rows := [][2]string{
		{"target", r.Target},
		{"requests", fmt.Sprint(r.Requests)},
		{"duration", r.Duration.Round(time.Millisecond).String()},
		{"req/s sent", fmt.Sprintf("%.0f", r.Rate)},
		{"req/s ok", fmt.Sprintf("%.0f", r.Throughput)},
		{"success", fmt.Sprintf("%.2f%%", 100*r.Success)},
		{"p50", ms(r.P50)},
		{"p90", ms(r.P90)},
		{"p99", ms(r.P99)},
		{"p99.9", ms(r.P999)},
		{"max", ms(r.Max)},
		{"status", strings.Join(codes, " ")},
	}
	for i, e := range r.Errors {
		if i == 5 {
			rows = append(rows, [2]string{"", fmt.Sprintf("… %d more", len(r.Errors)-5)})
			break
		}
		rows = append(rows, [2]string{"error", e})
	}
	for _, row := range rows {
		if _, err := fmt.Fprintf(w, "%-11s %s\n", row[0], row[1]); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
