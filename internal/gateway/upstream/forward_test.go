package upstream_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// forward sends method path (with body) through p.Forward and returns the
// status and the body read to its end.
func forward(t *testing.T, p *upstream.Pool, method, path, body string, header ...string) (int, string, error) {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.Header.SetRequestURI(path)
	req.Header.SetHost("api.test")
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if body != "" {
		req.SetBodyString(body)
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	answer, err := p.Forward(req, resp)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(answer)
	_ = answer.Close()
	return resp.StatusCode(), string(b), err
}

// countingReplica is newReplica that also counts the connections it
// accepts.
func countingReplica(t *testing.T, h http.HandlerFunc) (*replica, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	r := &replica{srv: srv, url: srv.URL}
	t.Cleanup(r.stop)
	return r, &n
}

// TestForwardReusesConnections: bodies of every framing arrive whole, and
// a connection whose answer was read to its end carries the next request;
// a request bigger than the connection's write buffer goes out in parts,
// also to a replica that answers before it has read it all.
func TestForwardReusesConnections(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<10) // 48 KiB
	r, conns := countingReplica(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/early" {
			io.WriteString(w, "early")
			w.(http.Flusher).Flush()
			io.Copy(io.Discard, req.Body) // keeps the connection
			return
		}
		body, _ := io.ReadAll(req.Body)
		switch req.URL.Path {
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, req.Method+" "+req.Host+" "+string(body))
		}
	})
	p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1})
	for i, tc := range []struct{ method, path, body, want string }{
		{"GET", "/x", "", "GET api.test "},
		{"POST", "/x", "hello", "POST api.test hello"},
		{"GET", "/chunked", "", "ab"},
		{"GET", "/empty", "", ""},
		{"HEAD", "/x", "", ""},
		{"PUT", "/x", "again", "PUT api.test again"},
		{"POST", "/x", big, "POST api.test " + big},
		{"PUT", "/early", big, "early"},
		{"GET", "/x", "", "GET api.test "},
	} {
		status, body, err := forward(t, p, tc.method, tc.path, tc.body)
		if err != nil || body != tc.want || status >= 300 {
			t.Fatalf("request %d: %d %q %v; want %q", i, status, body, err, tc.want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 9 requests in a row, want 1", n)
	}
}

// TestForwardRetriesAndEjects: a replica that refuses connections is
// skipped for a request of any method; one that hangs costs idempotent
// requests a timeout and a retry elsewhere, then is ejected.
func TestForwardRetriesAndEjects(t *testing.T) {
	good := newReplica(t, ok)
	p := newPool(t, upstream.Options{Targets: []string{refusedURL(t), good.url}, HealthInterval: -1,
		RetryBudget: upstream.RetryBudget{MinPerSecond: 1000}})
	for i := range 10 {
		if status, _, err := forward(t, p, "POST", "/x", "body"); err != nil || status != 200 {
			t.Fatalf("POST %d with a dead replica: %d %v", i, status, err)
		}
	}

	release := make(chan struct{})
	hung := newReplica(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	p = newPool(t, upstream.Options{Targets: []string{hung.url, good.url}, HealthInterval: -1,
		Timeout: 100 * time.Millisecond, EjectAfter: 2, RetryBudget: upstream.RetryBudget{MinPerSecond: 1000}})
	for i := range 10 {
		if status, _, err := forward(t, p, "GET", "/x", ""); err != nil || status != 200 {
			t.Fatalf("GET %d with a hung replica: %d %v", i, status, err)
		}
	}
	if h := hung.hits.Load(); h > 2 {
		t.Errorf("the hung replica got %d requests; want it ejected after 2", h)
	}
	var ejected bool
	for _, ts := range p.Stats().Targets {
		ejected = ejected || ts.URL == hung.url && ts.Ejected > 0
	}
	if !ejected {
		t.Errorf("hung replica not ejected: %+v", p.Stats().Targets)
	}

	p = newPool(t, upstream.Options{Targets: []string{hung.url}, HealthInterval: -1,
		Timeout: 100 * time.Millisecond, Retries: -1})
	if _, _, err := forward(t, p, "GET", "/x", ""); !errors.Is(err, upstream.ErrTimeout) {
		t.Errorf("alone, a hung replica gave %v; want ErrTimeout", err)
	}
}

// TestForwardAfterIdleClose: a replica that closes idle connections on
// its own (a short keep-alive) costs no request: an idempotent one goes
// again on a new connection, and one that must not be sent twice takes a
// new connection when the idle one is older than a second.
func TestForwardAfterIdleClose(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	p := newPool(t, upstream.Options{Targets: []string{srv.URL}, HealthInterval: -1, Retries: -1})
	for i := range 3 {
		if status, _, err := forward(t, p, "GET", "/x", ""); err != nil || status != 200 {
			t.Fatalf("GET %d: %d %v", i, status, err)
		}
		time.Sleep(150 * time.Millisecond) // the replica closes the idle connection
	}
	if status, _, err := forward(t, p, "GET", "/x", ""); err != nil || status != 200 {
		t.Fatalf("GET: %d %v", status, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, err := forward(t, p, "POST", "/x", "once"); err != nil || status != 200 {
		t.Fatalf("POST after an idle second: %d %v", status, err)
	}
}

// TestForwardStreamEndedEarly: an answer closed before its end does not
// give its connection back (the rest would be read as the next answer).
func TestForwardStreamEndedEarly(t *testing.T) {
	r, conns := countingReplica(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/big" {
			io.WriteString(w, strings.Repeat("x", 1<<20))
			return
		}
		io.WriteString(w, "small")
	})
	p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1})
	req := fasthttp.AcquireRequest()
	req.Header.SetRequestURI("/big")
	req.Header.SetHost("api.test")
	resp := fasthttp.AcquireResponse()
	answer, err := p.Forward(req, resp)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(answer, buf); err != nil {
		t.Fatal(err)
	}
	_ = answer.Close()
	if status, body, err := forward(t, p, "GET", "/small", ""); err != nil || status != 200 || body != "small" {
		t.Fatalf("after an abandoned answer: %d %q %v", status, body, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (the abandoned one not reused)", n)
	}
	if s := p.Stats().Targets[0]; s.InFlight != 0 {
		t.Errorf("%d requests still in flight", s.InFlight)
	}
}

// rawReplica answers every request on a connection with answer, as bytes,
// then does what after says: "close" closes the connection (without a
// Connection: close), anything else is written too (bytes no request
// asked for).
func rawReplica(t *testing.T, answer, after string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					body := answer
					if req.Method == http.MethodHead {
						body = strings.SplitAfter(answer, "\r\n\r\n")[0]
					}
					_, _ = io.WriteString(c, body)
					if after == "close" {
						return
					}
					_, _ = io.WriteString(c, after)
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// TestForwardDropsDirtyConnections: bytes a replica sends beyond its
// answer are never taken for the next request's answer, and a connection
// the replica closed is not reused for a request that must not be sent
// twice.
func TestForwardDropsDirtyConnections(t *testing.T) {
	forged := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
	stray := rawReplica(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", forged)
	p := newPool(t, upstream.Options{Targets: []string{stray}, HealthInterval: -1})
	for i := range 3 {
		if status, body, err := forward(t, p, "GET", "/x", ""); err != nil || status != 200 || body != "ok" {
			t.Fatalf("GET %d: %d %q %v; want ok", i, status, body, err)
		}
		time.Sleep(20 * time.Millisecond) // the stray answer arrives
	}

	closing := rawReplica(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "close")
	p = newPool(t, upstream.Options{Targets: []string{closing}, HealthInterval: -1, Retries: -1})
	for i := range 5 {
		if status, _, err := forward(t, p, "POST", "/x", "once"); err != nil || status != 200 {
			t.Fatalf("POST %d to a replica that closes after each answer: %d %v", i, status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if f := p.Stats().Targets[0].Failures; f != 0 {
		t.Errorf("%d failures counted against a healthy replica", f)
	}
}

// TestForwardReusesAfterTheTimeout: a connection idle for longer than the
// pool's timeout is still reused; the deadline its last request left on
// it does not count against it.
func TestForwardReusesAfterTheTimeout(t *testing.T) {
	r, conns := countingReplica(t, ok)
	p := newPool(t, upstream.Options{Targets: []string{r.url}, HealthInterval: -1, Timeout: 50 * time.Millisecond})
	for i, method := range []string{"GET", "POST"} {
		if i > 0 {
			time.Sleep(120 * time.Millisecond) // past the first request's deadline
		}
		if status, _, err := forward(t, p, method, "/x", ""); err != nil || status != 200 {
			t.Fatalf("%s: %d %v", method, status, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
