package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
)

// ErrAborted is the error a caller gets, from RoundTrip or from reading the
// body, when an in-process handler panicked: the in-process form of a
// connection the server cut.
var ErrAborted = errors.New("transport: handler aborted the response")

// errClientGone is what a handler's writes return after the caller closed
// the response body or gave up.
var errClientGone = errors.New("transport: client went away")

// InProcess returns a RoundTripper that serves each request by calling h in
// the caller's process, without a socket, and behaves like a round trip
// over HTTP/1.1 in every way a caller or handler can observe:
//
//   - The handler gets a server-side request: RequestURI set, URL with only
//     path and query, Host, RemoteAddr "127.0.0.1:0", headers cloned, the
//     body streamed from the caller and closed after the handler returns.
//   - Its context is NOT the caller's: like over a network, values and
//     deadlines do not cross (trace context and request ids travel in
//     headers); only cancellation does. It is canceled when the caller's
//     context is done, when the caller closes the response body, and when
//     the handler returns.
//   - The response has Status, Proto, Header, ContentLength and Request set.
//     Small responses are buffered (as net/http does before it would start
//     chunking) and get a Content-Length; larger or flushed ones stream
//     through a pipe, so headers arrive as soon as the handler flushes and
//     server-sent events work.
//   - WriteHeader semantics follow net/http: implicit 200 on the first
//     Write or Flush, headers changed after WriteHeader are ignored, the
//     Content-Type is sniffed when unset, no body for HEAD, 204 and 304.
//   - A panic in the handler never reaches the caller: it becomes ErrAborted,
//     from RoundTrip or from the body. It is logged with its stack, except
//     http.ErrAbortHandler, which aborts silently as in net/http.
//   - The handler may hijack the connection (http.Hijacker, as WebSocket
//     servers do): it gets one end of an in-memory connection, the caller
//     the other as the body of the response, an io.ReadWriteCloser, as an
//     http.Transport returns for 101 Switching Protocols (hijack.go).
func InProcess(h http.Handler) http.RoundTripper {
	return inProcess{h: h}
}

type inProcess struct{ h http.Handler }

// result is what RoundTrip waits for: the response head, or the error that
// replaces it.
type result struct {
	resp *http.Response
	err  error
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq, err := serverRequest(req)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sreq = sreq.WithContext(ctx)
	pr, pw := io.Pipe()
	w := &responseWriter{
		req:     req,
		head:    req.Method == http.MethodHead,
		header:  http.Header{},
		pr:      pr,
		pw:      pw,
		cancel:  cancel,
		respond: make(chan result, 1),
	}
	stop := context.AfterFunc(req.Context(), func() {
		cancel()
		_ = pr.CloseWithError(req.Context().Err())
	})
	w.detach = stop

	go func() {
		defer func() {
			stop()
			w.finish(recover())
			cancel()
			_ = sreq.Body.Close()
		}()
		t.h.ServeHTTP(w, sreq)
	}()

	select {
	case res := <-w.respond:
		return res.resp, res.err
	case <-req.Context().Done():
		go discardLate(w.respond)
		return nil, req.Context().Err()
	}
}

// discardLate closes the response that reaches a caller who gave up (every
// exchange sends one, at the latest when the handler returns): a hijacked
// connection would otherwise stay open with no one at its other end.
func discardLate(respond <-chan result) {
	if res := <-respond; res.resp != nil {
		_ = res.resp.Body.Close()
	}
}

// serverRequest builds the request the handler sees, as net/http's server
// would have parsed it from the wire.
func serverRequest(req *http.Request) (*http.Request, error) {
	if req.URL == nil {
		return nil, errors.New("transport: nil Request.URL")
	}
	requestURI := req.URL.RequestURI()
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, fmt.Errorf("transport: bad request URI %q: %w", requestURI, err)
	}
	s := req.Clone(context.Background())
	s.URL = u
	s.RequestURI = requestURI
	s.Proto, s.ProtoMajor, s.ProtoMinor = "HTTP/1.1", 1, 1
	s.RemoteAddr = "127.0.0.1:0"
	s.Close = false
	s.GetBody = nil
	s.Cancel = nil //nolint:staticcheck // cleared, not used
	s.Response = nil
	s.TLS = nil
	if s.Host == "" {
		s.Host = req.URL.Host
	}
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if req.Body == nil || req.Body == http.NoBody {
		s.Body, s.ContentLength = http.NoBody, 0
	} else {
		s.Body = &onceCloser{ReadCloser: req.Body}
		if s.ContentLength == 0 { // client side, 0 with a body means unknown
			s.ContentLength = -1
		}
	}
	return s, nil
}

// onceCloser lets both the handler and the transport close the caller's body.
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}

// pipeBody is a streamed response body; closing it early tells the handler
// the client is gone.
type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.cancel()
	return b.pr.CloseWithError(errClientGone)
}

// logPanic reports a handler panic as net/http's server does.
func logPanic(req *http.Request, p any) {
	slog.Default().ErrorContext(req.Context(), "transport: panic in in-process handler",
		slog.String("method", req.Method), slog.String("url", req.URL.String()),
		slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
}
