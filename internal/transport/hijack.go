package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
)

var errHijackCommitted = errors.New("transport: Hijack after the response was sent")

// Hijack implements http.Hijacker, for protocol upgrades (WebSocket): the
// handler gets one end of an in-memory connection (pipe.go) and the
// caller the other, as the body of the response, an io.ReadWriteCloser —
// what an http.Transport returns for 101 Switching Protocols, and what
// httputil.ReverseProxy and WebSocket clients expect of it.
//
// As with net/http's server, a handler may set the status first
// (WriteHeader(101), as github.com/coder/websocket does): the response head
// goes to the caller at once. Or it may hijack first and write the whole
// response on the connection itself (as gorilla/websocket does): the
// caller then reads it from there as a client would.
//
// The connection outlives the handler, as a hijacked one does in net/http,
// and, once upgraded, the caller's context, as one an http.Transport
// returns does (nor does that context cancel the handler's any more): it
// closes when either end closes it (or the handler panics after
// hijacking). While the caller still waits for the response head, its
// context ending closes it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch {
	case w.finished:
		return nil, nil, errWriteAfterReturn
	case w.committed:
		return nil, nil, errHijackCommitted
	}
	handlerEnd, callerEnd := pipe()
	c := &upgradedConn{Conn: callerEnd, handlerEnd: handlerEnd, cancel: w.cancel, stop: func() bool { return false }}
	w.hijacked, w.committed = c, true
	if w.status == 0 {
		// Until the response head arrives, the caller's context bounds the
		// wait, as it bounds a round trip.
		c.stop = context.AfterFunc(w.req.Context(), func() { _ = c.Close() })
		go w.readResponse(c)
	} else {
		w.detach() // an upgraded connection outlives the round trip's context
		resp := w.response()
		resp.Body = c
		if w.status != http.StatusSwitchingProtocols {
			resp.ContentLength = -1 // the body lasts as long as the connection
		} // else 0, as http.ReadResponse says of a 101: a proxy writing this head must not add Connection: close
		if len(w.buf) > 0 { // a body written before the hijack comes first
			resp.Body = &prefixedConn{upgradedConn: c, r: io.MultiReader(bytes.NewReader(w.buf), callerEnd)}
			w.buf = nil
		}
		w.respond <- result{resp: resp}
	}
	rw := bufio.NewReadWriter(bufio.NewReader(handlerEnd), bufio.NewWriter(handlerEnd))
	return handlerEnd, rw, nil
}

// readResponse reads the response a handler wrote on its hijacked
// connection and hands it to the caller: a 101's body is the connection
// (with whatever the reader buffered past the head), any other's body is
// read from the connection as HTTP/1.1 frames it.
func (w *responseWriter) readResponse(c *upgradedConn) {
	br := bufio.NewReader(c.Conn)
	resp, err := http.ReadResponse(br, w.req)
	if err != nil {
		_ = c.Close()
		w.respond <- result{err: err}
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		c.stop() // an upgraded connection outlives the round trip's context
		w.detach()
		resp.Body = &prefixedConn{upgradedConn: c, r: br}
	} else {
		resp.Body = &closingBody{ReadCloser: resp.Body, c: c}
	}
	w.respond <- result{resp: resp}
}

// upgradedConn is the caller's end of a hijacked in-process connection,
// and the response body that carries it.
type upgradedConn struct {
	net.Conn
	handlerEnd net.Conn
	cancel     context.CancelFunc
	stop       func() bool
	once       sync.Once
}

// Close closes both ends and ends the handler's request context, as
// closing a response body does.
func (c *upgradedConn) Close() error {
	c.once.Do(func() {
		c.stop()
		c.cancel()
		_ = c.handlerEnd.Close()
		_ = c.Conn.Close()
	})
	return nil
}

// prefixedConn is an upgradedConn whose reads start with bytes already
// taken off the connection.
type prefixedConn struct {
	*upgradedConn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// closingBody closes the connection a non-upgrade response was read from.
type closingBody struct {
	io.ReadCloser
	c *upgradedConn
}

func (b *closingBody) Close() error {
	err := b.ReadCloser.Close()
	_ = b.c.Close()
	return err
}
