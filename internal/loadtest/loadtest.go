// Package loadtest drives HTTP load at one target and summarises what came
// back: throughput, success ratio and latency percentiles. It is the engine
// of `bam bench`: each of Options.Connections workers owns one kept-alive
// connection (a fasthttp HostClient), and at a fixed rate they share one
// schedule of send times, so a slow answer delays nobody else's request.
// Latency runs from a request's scheduled time, not from when a busy
// worker got to it (no coordinated omission). It only ever hits the URL it
// is given, and is meant for 127.0.0.1 and hosts you run yourself.
//
// It was built on vegeta's attacker until that cost ~47 µs of CPU per
// request (net/http's client with two goroutines per connection, a
// channel hop per request each way, a t-digest per result): at 17,000
// req/s the generator took 0.8 of this machine's two cores and its own
// scheduling showed up as milliseconds in every target's p99. This engine
// costs ~18 µs per request (0.3 of a core at that rate); it keeps every
// latency and sorts them for exact percentiles.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// Requests in flight then finish (each within o.Timeout); none starts.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.defaults(); err != nil {
		return Report{}, err
	}
	workers := make([]*worker, o.Connections)
	for i := range workers {
		w, err := newWorker(o)
		if err != nil {
			return Report{}, err
		}
		workers[i] = w
	}
	s := newSchedule(o.Rate, o.Duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, s) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	s.progress(ctx, done, o.Progress, o.ProgressEvery)
	<-done
	return s.report(o, workers)
}

// schedule is the run's send times, which the workers share: at a rate,
// the k-th request is due at start + k/rate, whichever worker is free to
// take it; with no rate, each is due as soon as a worker takes it.
type schedule struct {
	start, end time.Time
	period     time.Duration // 0: no rate
	next       atomic.Int64  // the next k to take
	answered   atomic.Int64  // for the progress lines
}

func newSchedule(rate float64, d time.Duration) *schedule {
	s := &schedule{start: time.Now()}
	s.end = s.start.Add(d)
	if rate > 0 {
		s.period = time.Duration(float64(time.Second) / rate)
	}
	return s
}

// take returns the time the next request is due, and false once the run
// is over: its duration has passed (requests that fell due but could not
// be sent in time are not sent), or ctx ended.
func (s *schedule) take(ctx context.Context) (time.Time, bool) {
	now := time.Now()
	if ctx.Err() != nil || !now.Before(s.end) {
		return time.Time{}, false
	}
	if s.period == 0 {
		return now, true
	}
	due := s.start.Add(time.Duration(s.next.Add(1)-1) * s.period)
	return due, due.Before(s.end)
}

// progress prints a line every `every` until done, when out is set and the
// run is longer than that.
func (s *schedule) progress(ctx context.Context, done <-chan struct{}, out io.Writer, every time.Duration) {
	if out == nil || s.end.Sub(s.start) <= every {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last int64
	lastAt := s.start
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.answered.Load()
			fmt.Fprintf(out, "%5.1fs  %8d requests  %9.0f req/s now\n",
				now.Sub(s.start).Seconds(), n, float64(n-last)/now.Sub(lastAt).Seconds())
			last, lastAt = n, now
		}
	}
}

// report sums the workers' results.
func (s *schedule) report(o Options, workers []*worker) (Report, error) {
	var (
		lat      []time.Duration
		codes    = map[string]int{}
		errs     = map[string]bool{}
		ok       uint64
		sentLast time.Time
		lastDone time.Time
	)
	for _, w := range workers {
		lat = append(lat, w.latencies...)
		for code, n := range w.codes {
			codes[fmt.Sprint(code)] += n
			if code >= 200 && code < 400 {
				ok += uint64(n)
			}
		}
		if w.failed > 0 {
			codes["0"] += w.failed
		}
		for e := range w.errors {
			errs[e] = true
		}
		if w.lastSent.After(sentLast) {
			sentLast = w.lastSent
		}
		if w.lastDone.After(lastDone) {
			lastDone = w.lastDone
		}
	}
	n := uint64(len(lat))
	if n == 0 {
		return Report{}, errors.New("loadtest: no request completed")
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return percentile(lat, q) }
	r := Report{
		Target: o.Method + " " + o.URL, Requests: n, Duration: lastDone.Sub(s.start),
		Success: float64(ok) / float64(n),
		P50:     at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: lat[n-1],
		StatusCodes: codes, Errors: slices.Sorted(maps.Keys(errs)),
	}
	if sending := sentLast.Sub(s.start); sending > 0 && n > 1 {
		r.Rate = float64(n-1) / sending.Seconds()
	}
	if r.Duration > 0 {
		r.Throughput = float64(ok) / r.Duration.Seconds()
	}
	return r, nil
}

// percentile is the q-quantile of sorted (nearest rank: the smallest
// value with at least q of them at or below it); sorted is not empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(max(int(math.Ceil(q*float64(len(sorted))))-1, 0), len(sorted)-1)]
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
