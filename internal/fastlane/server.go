// Package fastlane serves a public plain-HTTP listener with fasthttp, and
// hands every connection it should not serve itself to a net/http server,
// so that one listener gets fasthttp's speed on the requests that matter
// and net/http's full behaviour on the rest.
//
// Each request is read by fasthttp. When it qualifies — no protocol
// upgrade, a body (if any) of known length small enough to hold in memory,
// and whatever the Fast predicate asks — the Handler, the same
// http.Handler net/http would run, serves it on this goroutine through a
// pooled *http.Request and a buffered ResponseWriter (exchange.go); a
// handler that knows the lane (the gateway's proxy) may write the answer
// straight to the fasthttp response and stream its body (Writer).
// Otherwise the connection is handed over (handover.go): the request's
// bytes are replayed, then the rest of the connection, to a net/http
// server running the same Handler, which keeps the connection from then
// on — WebSocket upgrades, large or chunked uploads, anything the predicate
// declines.
//
// Why: the gateway's proxy path on net/http costs about four times the CPU
// per request of nginx's, most of it in net/http's server and client
// machinery (docs/benchmarks.md); fasthttp reads and writes a request with
// no goroutine handoffs and no allocation.
package fastlane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"

	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/rawsock"
)

// Server is a kernel service serving Handler on Addr, plain HTTP/1.1.
type Server struct {
	Name    string // for logs, e.g. "gateway"
	Addr    string // host:port; port 0 picks a free one
	Handler http.Handler
	// Fast says whether a request that qualifies otherwise may be served
	// in the lane; nil: every one.
	Fast func(*fasthttp.RequestCtx) bool
	// Native, when set, is offered each request of the lane first, with
	// its header fields as sent: it serves it without net/http's types and
	// returns true, or does nothing and returns false (Handler serves it
	// then).
	Native func(*fasthttp.RequestCtx, *Head) bool
	// MaxBody is the largest request body served in the lane, held in
	// memory (1 MiB); larger ones go to net/http, streamed.
	MaxBody int
	Log     *slog.Logger

	fast    *fasthttp.Server
	ln      net.Listener // the lane's, closed by Stop too
	slow    *http.Server
	handed  *connListener
	bound   atomic.Pointer[string]
	failed  chan error
	lanes   [3]atomic.Uint64 // requests served by Native, by Handler in the lane; connections handed over
	started bool
	mu      sync.Mutex
	open    map[net.Conn]struct{} // the lane's connections (not those handed over)
}

const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	// maxHead bounds a request's line and headers: fasthttp's read buffer.
	maxHead = 16 << 10
)

// Start implements kernel.Service: it binds the port and serves.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	if s.MaxBody <= 0 {
		s.MaxBody = 1 << 20
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	addr := ln.Addr().String()
	s.bound.Store(&addr)
	s.ln = ln
	s.handed = newConnListener(ln.Addr())
	s.open = map[net.Conn]struct{}{}
	s.slow = &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ConnContext:       httpx.WithConn,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	s.fast = &fasthttp.Server{
		Handler:                      s.serve,
		ErrorHandler:                 refuse,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		LazyRequestTime:              true, // nothing reads RequestCtx.Time: no clock read per request
		ReadBufferSize:               maxHead,
		ReadTimeout:                  readHeaderTimeout,
		IdleTimeout:                  idleTimeout,
		MaxRequestBodySize:           s.MaxBody,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		KeepHijackedConns:            true, // handed over: net/http's to close
		ConnState:                    s.track,
		Logger:                       logger{s.Log},
	}
	s.failed = make(chan error, 2)
	s.started = true
	var serving sync.WaitGroup
	serving.Go(func() {
		if err := s.slow.Serve(s.handed); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.failed <- err
		}
	})
	serving.Go(func() {
		if err := s.fast.Serve(rawListener{ln}); err != nil && !errors.Is(err, net.ErrClosed) {
			s.failed <- err
		}
	})
	go func() { serving.Wait(); close(s.failed) }() // as kernel.HTTPServer: its watcher ends
	s.Log.Info("listening", "server", s.Name, "addr", "http://"+displayAddr(ln.Addr()), "lane", "fasthttp")
	return nil
}

// track keeps the lane's open connections, for Stop.
func (s *Server) track(c net.Conn, state fasthttp.ConnState) {
	switch state {
	case fasthttp.StateNew:
		s.mu.Lock()
		s.open[c] = struct{}{}
		s.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		s.mu.Lock()
		delete(s.open, c)
		s.mu.Unlock()
	}
}

// Stop implements kernel.Service: both servers stop accepting and drain
// until ctx ends, then what is left is closed.
func (s *Server) Stop(ctx context.Context) error {
	if !s.started {
		return nil
	}
	errFast := s.fast.ShutdownWithContext(ctx)
	// fasthttp closes only the listeners its Serve has registered: one
	// that had not started yet (a Stop right after Start) would serve on.
	_ = s.ln.Close()
	if errFast != nil { // fasthttp leaves what did not drain open, serving
		s.mu.Lock()
		for c := range s.open {
			_ = c.Close()
		}
		s.mu.Unlock()
	}
	errSlow := s.slow.Shutdown(ctx)
	if errors.Is(errSlow, context.DeadlineExceeded) || errors.Is(errSlow, context.Canceled) {
		s.Log.Warn("drain deadline reached; closing remaining connections", "server", s.Name)
		errSlow = errors.Join(errSlow, s.slow.Close())
	}
	return errors.Join(errFast, errSlow)
}

// Failed implements kernel.Failer.
func (s *Server) Failed() <-chan error { return s.failed }

// BoundAddr returns the bound address once started, or "".
func (s *Server) BoundAddr() string {
	if a := s.bound.Load(); a != nil {
		return *a
	}
	return ""
}

// Served returns how many requests the lane served natively and through
// Handler, and how many connections it handed to net/http.
func (s *Server) Served() (native, view, handed uint64) {
	return s.lanes[0].Load(), s.lanes[1].Load(), s.lanes[2].Load()
}

// serve is fasthttp's handler: Native, the lane's net/http view, or the
// hand-over.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	head := ReadHead(&ctx.Request.Header)
	defer head.Release()
	if !s.qualifies(ctx, head) {
		s.handOver(ctx)
		return
	}
	defer func() {
		v := recover()
		switch {
		case v == nil:
		case v == http.ErrAbortHandler:
			// net/http's way to cut a response: the client must not take
			// what was written for a whole one. No response; the
			// connection is closed.
			ctx.Response.Reset()
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) { _ = c.Close() })
		default:
			s.Log.Error("panic serving a request", "server", s.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.SetStatusCode(http.StatusInternalServerError)
			ctx.SetConnectionClose()
		}
	}()
	if s.Native != nil && s.Native(ctx, head) {
		s.lanes[0].Add(1)
		return
	}
	if s.Fast != nil && !s.Fast(ctx) {
		s.handOver(ctx)
		return
	}
	s.lanes[1].Add(1)
	serveView(ctx, s.Handler, head)
}

// ReadBody reads the rest of ctx's request body, which fasthttp streams
// past its first 8 KiB, and makes the whole of it the request's body: a
// request served in the lane has a known length up to MaxBody, and its
// handlers take the body whole. When the body cannot be read whole it
// answers 400 (408 at the read timeout), closing the connection, and
// returns false; like the lane's other refusals (refuse), that answer is
// not the handler's, so its metrics and access log do not see it.
//
// Without it, Request.Body read a streamed body and logged a warning on
// every request, and a body cut short was handed on as if it were whole:
// as the read error's text, or as the part that came before the client
// closed its side (fasthttp's stream ends at EOF then).
func ReadBody(ctx *fasthttp.RequestCtx) bool {
	req := &ctx.Request
	if !req.IsBodyStream() {
		return true
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	err := req.BodyWriteTo(buf)
	if n := req.Header.ContentLength(); err == nil && n >= 0 && len(buf.B) != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		refuse(ctx, err)
		return false
	}
	req.SetBody(buf.B)
	return true
}

// rawListener hands fasthttp connections that read and write with raw
// system calls (internal/rawsock).
type rawListener struct{ net.Listener }

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return rawsock.Wrap(c), nil
}

func (s *Server) handOver(ctx *fasthttp.RequestCtx) {
	s.lanes[2].Add(1)
	handOver(ctx, s.handed)
}

// Serve serves ctx's request with h through the lane's net/http view — a
// pooled *http.Request and the buffered Writer — and returns the status
// sent. A Native handler answers its rare responses (errors) with it.
func Serve(ctx *fasthttp.RequestCtx, h http.Handler) int {
	head := ReadHead(&ctx.Request.Header)
	defer head.Release()
	return serveView(ctx, h, head)
}

// serveView is Serve with the request's fields read already.
func serveView(ctx *fasthttp.RequestCtx, h http.Handler, head *Head) int {
	if !ReadBody(ctx) {
		return ctx.Response.StatusCode()
	}
	x := acquireExchange(ctx, head)
	defer releaseExchange(x)
	h.ServeHTTP(&x.w, &x.req)
	return x.w.commit()
}

// qualifies says whether ctx may be served in the lane at all: an
// origin-form target (absolute-form's host is net/http's to weigh against
// Host), no upgrade, no Transfer-Encoding, a body (if any) of known length
// up to MaxBody, and header names net/http accepts (fasthttp is more
// lenient, and an upstream must not see what net/http would refuse).
func (s *Server) qualifies(ctx *fasthttp.RequestCtx, head *Head) bool {
	h := &ctx.Request.Header
	if uri := h.RequestURI(); len(uri) == 0 || uri[0] != '/' {
		return false
	}
	if n := h.ContentLength(); n == -1 || n > s.MaxBody { // -1: chunked
		return false
	}
	if h.Peek("Upgrade") != nil || h.IsConnect() {
		return false
	}
	for k := range head.All() { // as sent: fasthttp drops a Transfer-Encoding it ignores
		name := unsafe.String(unsafe.SliceData(k), len(k))
		if !httpguts.ValidHeaderFieldName(name) || name == "Transfer-Encoding" {
			return false
		}
	}
	return true
}

// refuse answers a request that could not be read, as problem+json, and
// closes the connection.
func refuse(ctx *fasthttp.RequestCtx, err error) {
	status, code, detail := http.StatusBadRequest, "http.bad_request", "the request could not be read"
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, code, detail = http.StatusRequestHeaderFieldsTooLarge, "http.header_too_large",
			"the request line and headers exceed "+strconv.Itoa(maxHead>>10)+" KiB"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, code, detail = http.StatusRequestEntityTooLarge, "http.body_too_large", "the request body is too large"
	case isTimeout(err):
		status, code, detail = http.StatusRequestTimeout, "http.request_timeout", "the request was not sent in time"
	}
	ctx.Response.Reset()
	ctx.SetConnectionClose()
	ctx.SetStatusCode(status)
	ctx.SetContentType(httpx.ContentTypeProblem)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	body, _ := json.Marshal(httpx.Problem{Type: httpx.ProblemTypeBase + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Code: code})
	ctx.SetBody(body)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// logger sends fasthttp's own messages to slog, at warn.
type logger struct{ log *slog.Logger }

func (l logger) Printf(format string, args ...any) { l.log.Warn(fmt.Sprintf(format, args...)) }

// displayAddr turns a wildcard listen address into one a person can click.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}
