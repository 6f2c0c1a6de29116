package loadtest

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// maxErrors bounds the distinct error messages a worker keeps.
const maxErrors = 100

// worker sends requests on its own connection, one at a time, and keeps
// what it measured. A request unanswered within Options.Timeout fails,
// and its connection is closed (fasthttp's read and write deadlines).
type worker struct {
	client    *fasthttp.HostClient
	req       *fasthttp.Request
	resp      *fasthttp.Response
	latencies []time.Duration
	codes     map[int]int
	failed    int // requests that got no answer
	errors    map[string]bool
	lastSent  time.Time
	lastDone  time.Time
}

func newWorker(o Options) (*worker, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		addr += map[string]string{"http": ":80", "https": ":443"}[u.Scheme]
	}
	w := &worker{
		client: &fasthttp.HostClient{
			Addr: addr, IsTLS: u.Scheme == "https", MaxConns: 1, DialDualStack: true,
			NoDefaultUserAgentHeader: true, DisableHeaderNamesNormalizing: true,
			MaxIdemponentCallAttempts: 1, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
			// At a low rate a worker's turns are seconds apart: its
			// connection is kept for the whole run, not redialled inside
			// a request's latency.
			MaxIdleConnDuration: o.Duration + o.Timeout,
		},
		req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse(),
		codes: map[int]int{}, errors: map[string]bool{},
	}
	w.req.SetRequestURI(o.URL)
	w.req.Header.SetMethod(o.Method)
	w.req.Header.SetNoDefaultContentType(true) // as sent: none unless given
	w.req.UseHostHeader = o.Header.Get("Host") != ""
	for k, vs := range o.Header {
		for _, v := range vs {
			w.req.Header.Add(k, v)
		}
	}
	if o.Body != nil {
		w.req.SetBodyRaw(o.Body)
	}
	return w, nil
}

// run takes requests from s until the run is over, and closes its
// connection.
func (w *worker) run(ctx context.Context, s *schedule) {
	defer w.client.CloseIdleConnections()
	defer fasthttp.ReleaseRequest(w.req)
	defer fasthttp.ReleaseResponse(w.resp)
	for {
		due, ok := s.take(ctx)
		if !ok {
			return
		}
		// Latency runs from when the request was due, when this worker was
		// still busy with its last one then (the target's delay: no
		// coordinated omission), or from when it woke to send it (a timer
		// that fires late is the generator's delay, not the target's).
		from := due
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			from = time.Now()
		}
		w.lastSent = time.Now()
		err := w.client.Do(w.req, w.resp)
		w.lastDone = time.Now()
		w.latencies = append(w.latencies, w.lastDone.Sub(from))
		s.answered.Add(1)
		if err != nil {
			w.failed++
			if len(w.errors) < maxErrors {
				w.errors[fmt.Sprint(err)] = true
			}
			continue
		}
		w.codes[w.resp.StatusCode()]++
	}
}
