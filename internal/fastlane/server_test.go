package fastlane_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fasthttp"

	"github.com/bamhq/bam/internal/fastlane"
)

// echo answers with what net/http (or the lane's view of it) parsed.
func echo(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err == nil {
			_ = c.Write(r.Context(), typ, append([]byte("echo "), msg...))
		}
		return
	}
	if r.URL.Path == "/panic" {
		panic("boom")
	}
	if r.URL.Path == "/fast/abort" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	}
	if r.URL.Path == "/fast/hold" {
		<-held
		return
	}
	body, err := io.ReadAll(r.Body)
	_, lane := fastlane.WriterOf(w)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "uri": r.RequestURI, "path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host,
		"len": len(body), "err": fmt.Sprint(err), "lane": lane, "proto": r.Proto,
		"cookie": r.Header.Get("Cookie"), "remote": r.RemoteAddr != "", "expect": r.Header.Get("Expect"),
		"folded": r.Header.Values("X-Folded"),
	})
}

// held blocks /fast/hold until closed.
var held = make(chan struct{})

// start serves echo with the lane taking paths under /fast/ and /native
// answered natively.
func start(t *testing.T, options ...func(*fastlane.Server)) *fastlane.Server {
	s := &fastlane.Server{Name: "test", Addr: "127.0.0.1:0", Handler: http.HandlerFunc(echo), MaxBody: 1 << 10,
		Log: slog.New(slog.DiscardHandler),
		Fast: func(ctx *fasthttp.RequestCtx) bool {
			return strings.HasPrefix(string(ctx.Path()), "/fast/") || string(ctx.Path()) == "/panic"
		},
		Native: func(ctx *fasthttp.RequestCtx, head *fastlane.Head) bool {
			if string(ctx.Path()) != "/native" {
				return false
			}
			ctx.SetStatusCode(http.StatusTeapot)
			ctx.SetBodyString("native")
			for k, v := range head.All() { // the fields as sent, a line each
				ctx.Response.AppendBodyString("\n" + string(k) + ": " + string(v))
			}
			return true
		},
	}
	for _, o := range options {
		o(s)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func call(t *testing.T, s *fastlane.Server, method, path, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://"+s.BoundAddr()+path, rd)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if len(header) > 0 && header[0] == "Transfer-Encoding" {
		req.ContentLength = -1
		req.Body = io.NopCloser(strings.NewReader(body)) // unknown length: chunked
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

// TestLanes: which requests the lane serves, and that both sides parse
// them the same.
func TestLanes(t *testing.T) {
	s := start(t)
	big := strings.Repeat("b", 5000)
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		lane                     bool
		len                      float64
	}{
		{"get", "GET", "/fast/x?q=%20a", "", nil, true, 0},
		{"small body", "POST", "/fast/x", "hello", nil, true, 5},
		{"cookies as sent", "GET", "/fast/x", "", []string{"Cookie", "a=1;b=2; c"}, true, 0},
		{"not fast", "GET", "/slow/x?q=1", "", nil, false, 0},
		{"body over MaxBody", "POST", "/fast/x", big, nil, false, 5000},
		{"chunked", "POST", "/fast/x", big, []string{"Transfer-Encoding", "chunked"}, false, 5000},
		{"chunked, small", "POST", "/slow/x", "tiny", []string{"Transfer-Encoding", "chunked"}, false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, m := call(t, s, tc.method, tc.path, tc.body, tc.header...)
			if resp.StatusCode != 200 || m["lane"] != tc.lane || m["len"] != tc.len || m["err"] != "<nil>" {
				t.Fatalf("%d %v; want lane %v, len %v", resp.StatusCode, m, tc.lane, tc.len)
			}
			if want := strings.SplitN(tc.path, "?", 2)[0]; m["path"] != want || m["uri"] != tc.path {
				t.Errorf("path %v uri %v; want %s", m["path"], m["uri"], tc.path)
			}
			if tc.name == "cookies as sent" && m["cookie"] != "a=1;b=2; c" {
				t.Errorf("Cookie %q: not as sent", m["cookie"])
			}
			if m["remote"] != true || m["proto"] != "HTTP/1.1" {
				t.Errorf("remote %v proto %v", m["remote"], m["proto"])
			}
		})
	}
	resp, _ := call(t, s, "GET", "/native", "")
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("native: %d", resp.StatusCode)
	}
	native, view, handed := s.Served()
	if native != 1 || view != 3 || handed != 4 {
		t.Errorf("served native %d, view %d, handed %d; want 1, 3, 4", native, view, handed)
	}
}

// TestNativeGetsTheFieldsAsSent: a Native handler reads the request's
// fields in the order sent, repeated names and cookies as they came, names
// normalized; a folded value joined.
func TestNativeGetsTheFieldsAsSent(t *testing.T) {
	s := start(t)
	c, err := net.Dial("tcp", s.BoundAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /native HTTP/1.1\r\nHost: h\r\nx-one: 1\r\nCookie: a=1;b=2; c\r\n"+
		"authorization: Bearer "+strings.Repeat("t", 700)+"\r\nX-ONE: 2\r\ncookie: d=4\r\n"+
		"X-Folded: first\r\n second\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	want := "native\nHost: h\nX-One: 1\nCookie: a=1;b=2; c\nAuthorization: Bearer " + strings.Repeat("t", 700) +
		"\nX-One: 2\nCookie: d=4\nX-Folded: first second\nConnection: close"
	if resp.StatusCode != http.StatusTeapot || string(body) != want {
		t.Errorf("%d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
}

// TestFoldedFieldsReachEitherSide: a field folded over several lines
// reaches the handler joined, whether the lane serves the request or
// hands it to net/http, which reads the header again as it was sent (the
// lane's scan joins the lines in its buffer, and must put them back).
func TestFoldedFieldsReachEitherSide(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name, head, body string
		lane             bool
	}{
		{"lane", "GET /fast/x HTTP/1.1\r\n", "", true},
		{"handed over", "POST /fast/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n", false},
		{"not fast", "GET /slow/x HTTP/1.1\r\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.BoundAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, tc.head+"Host: h\r\nX-Folded: first\r\n second\r\nX-Folded: a\r\n b\r\n\tc\r\n"+
				"Connection: close\r\n\r\n"+tc.body)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			if got := fmt.Sprint(m["folded"]); resp.StatusCode != 200 || got != "[first second a b c]" || m["lane"] != tc.lane {
				t.Errorf("%d, X-Folded %s, lane %v; want [first second a b c], lane %v", resp.StatusCode, got, m["lane"], tc.lane)
			}
		})
	}
}

// TestHandOverKeepsTheConnection: after a hand-over, the requests that
// follow on the connection — pipelined with the first here — are net/http's,
// in order.
func TestHandOverKeepsTheConnection(t *testing.T) {
	s := start(t)
	c := dial(t, s)
	_, _ = io.WriteString(c, "POST /slow/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /fast/2 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /fast/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
	br := bufio.NewReader(c)
	for i, want := range []string{"/slow/1", "/fast/2", "/fast/3"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if m["path"] != want || m["lane"] != false {
			t.Errorf("response %d: %v; want %s served by net/http", i, m, want)
		}
	}
}

// TestHandOverExpectContinue: a handed-over request that expects 100
// Continue gets one, and its body arrives.
func TestHandOverExpectContinue(t *testing.T) {
	s := start(t)
	c := dial(t, s)
	_, _ = io.WriteString(c, "POST /slow/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("%q %v; want 100 Continue", line, err)
	}
	_, _ = br.ReadString('\n') // the blank line
	_, _ = io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 200 || m["len"] != 5.0 || m["expect"] != "" {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
}

// TestHandOverWebSocket: an upgrade goes to net/http, which hijacks it.
func TestHandOverWebSocket(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.BoundAddr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "echo hi" {
		t.Fatalf("%q %v", msg, err)
	}
}

// TestRefusals: what fasthttp cannot read is answered as problem+json, and
// a panic in the lane is a 500 that does not take the server down.
func TestRefusals(t *testing.T) {
	s := start(t)
	resp, _ := call(t, s, "GET", "/fast/x", "", "X-Big", strings.Repeat("h", 20<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("big head: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = call(t, s, "GET", "/panic", "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("panic: %d", resp.StatusCode)
	}
	if resp, m := call(t, s, "GET", "/fast/after", ""); resp.StatusCode != 200 || m["lane"] != true {
		t.Errorf("after the panic: %d %v", resp.StatusCode, m)
	}
}

// raw sends request as bytes on a new connection and returns the status
// line of the answer, or "" when the connection was closed without one.
func raw(t *testing.T, s *fastlane.Server, request string) string {
	t.Helper()
	c := dial(t, s)
	_, _ = io.WriteString(c, request)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestLaneLeavesToNetHTTP: what net/http judges differently from fasthttp
// is handed to it — an absolute-form target, a Transfer-Encoding that is
// not chunked, a header name net/http refuses — and a folded Expect is
// dropped whole from the replay.
func TestLaneLeavesToNetHTTP(t *testing.T) {
	s := start(t)
	for _, tc := range []struct{ name, request, want string }{
		{"absolute-form", "GET http://other.test/fast/x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK"},
		{"identity", "POST /fast/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.1 501 Not Implemented"},
		{"bad header name", "GET /fast/x HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		// the continuation went with the line it continues: not a broken head
		{"folded expect", "POST /slow/x HTTP/1.1\r\nHost: x\r\nExpect: 100-\r\n continue\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.1 200 OK"},
	} {
		if got := raw(t, s, tc.request); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
	if native, view, _ := s.Served(); native+view != 0 {
		t.Errorf("the lane served %d of them", native+view)
	}
}

// TestAbortIsNotAnAnswer: a handler in the lane that aborts (panics with
// http.ErrAbortHandler, as net/http's way to cut a response) sends nothing
// the client could take for a whole answer.
func TestAbortIsNotAnAnswer(t *testing.T) {
	s := start(t)
	if got := raw(t, s, "GET /fast/abort HTTP/1.1\r\nHost: x\r\n\r\n"); got != "" {
		t.Errorf("an aborted response was answered %q", got)
	}
}

// TestStopClosesWhatDidNotDrain: a request still being served in the lane
// when Stop's deadline passes has its connection closed.
func TestStopClosesWhatDidNotDrain(t *testing.T) {
	s := start(t)
	c := dial(t, s)
	_, _ = io.WriteString(c, "GET /fast/hold HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.Stop(ctx)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	close(held)
	if err == nil || isTimeout(err) {
		t.Errorf("the connection is still open after Stop: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dial opens a connection to s, closed with the test; reads and writes
// give up after 10 s.
func dial(t *testing.T, s *fastlane.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.BoundAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// TestFailedClosesAfterStop: once both servers have stopped, Failed is
// closed, as kernel.HTTPServer's is, so the kernel's watcher ends.
func TestFailedClosesAfterStop(t *testing.T) {
	s := start(t)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err, ok := <-s.Failed():
		if ok {
			t.Fatalf("Failed sent %v after a clean Stop; want it closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Failed still open 5 s after Stop")
	}
}

// TestBodyReadWhole: a body longer than what fasthttp reads before the
// handler (8 KiB) reaches the handler whole, with nothing in the log; one
// cut short is refused, not handed on with the read error's text as its
// body.
func TestBodyReadWhole(t *testing.T) {
	var warned warnings
	s := start(t, func(s *fastlane.Server) {
		s.MaxBody = 64 << 10
		s.Log = slog.New(&warned)
	})
	const n = 20000
	resp, m := call(t, s, "POST", "/fast/x", strings.Repeat("b", n))
	if resp.StatusCode != 200 || m["lane"] != true || m["len"] != float64(n) || m["err"] != "<nil>" {
		t.Errorf("%d %v; want the lane to hand on all %d bytes", resp.StatusCode, m, n)
	}
	c := dial(t, s)
	_, _ = io.WriteString(c, fmt.Sprintf("POST /fast/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("b", n/2)))
	_ = c.(*net.TCPConn).CloseWrite()
	line, _ := bufio.NewReader(c).ReadString('\n')
	if got := strings.TrimSpace(line); got != "HTTP/1.1 400 Bad Request" {
		t.Errorf("a body cut short: %q, want 400", got)
	}
	if k := warned.Load(); k != 0 {
		t.Errorf("%d warnings logged", k)
	}
}

// warnings is a slog handler that counts records at warn and above.
type warnings struct{ atomic.Int32 }

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *warnings) WithGroup(string) slog.Handler            { return w }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.Add(1)
	}
	return nil
}
