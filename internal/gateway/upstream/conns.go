package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bamhq/bam/internal/rawsock"
)

// Forward's connections: each replica keeps the HTTP/1.1 connections it is
// done with, newest last, and a request takes the newest one that has not
// been idle too long, or dials. A connection is one request at a time and
// carries no goroutine of its own: the request's goroutine writes it and
// reads the answer.

const (
	// connReadBuffer bounds the response head Forward accepts (net/http's
	// own limit is far larger, but 32 KiB of headers is already abuse).
	connReadBuffer  = 32 << 10
	connWriteBuffer = 16 << 10
	// maxIdleConns is how many idle connections a replica keeps.
	maxIdleConns = 512
)

// conn is one connection to a replica.
type conn struct {
	net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer // writes through the conn (Write)
	idle     time.Time     // when it was last given back
	reused   bool          // it carried a request before this one
	deadline bool          // a deadline is set on it

	// raw is the socket of a plain TCP connection (nil over TLS), for
	// sendAndAwait, which calls await, made once, through it.
	raw      syscall.RawConn
	await    func(uintptr) bool
	sent     int64 // bytes written to the socket
	flushed  bool  // await's state: the request went out
	flushErr error
}

func newConn(nc net.Conn) *conn {
	c := &conn{Conn: nc, br: bufio.NewReaderSize(nc, connReadBuffer)}
	c.bw = bufio.NewWriterSize(c, connWriteBuffer)
	_, tcp := nc.LocalAddr().(*net.TCPAddr)
	if sc, ok := nc.(syscall.Conn); ok && tcp { // plain TCP (rawsock's or net's), not TLS
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw, c.await = raw, c.flushThenWait
		}
	}
	return c
}

// Write writes to the socket, counting the bytes, so that roundTrip knows
// whether a request went out before its final flush.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent += int64(n)
	return n, err
}

// roundTrip writes req and reads the answer's head into resp; timeout
// (when positive) bounds both. The deadline stays for the body: an answer
// read whole goes on under it, and one streamed is first unbound (Answer's
// Unbound). A connection used without a timeout has none left from before.
func (c *conn) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	switch {
	case timeout > 0:
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		c.deadline = true
	case c.deadline:
		if err := c.SetDeadline(time.Time{}); err != nil {
			return err
		}
		c.deadline = false
	}
	sent := c.sent
	if err := req.Write(c.bw); err != nil {
		return err
	}
	if c.raw != nil && c.sent == sent && timeout > 0 {
		if err := c.sendAndAwait(); err != nil {
			return err
		}
	} else if err := c.bw.Flush(); err != nil { // over TLS, a request too big for the buffer, no timeout
		return err
	}
	return resp.Read(c.br)
}

// sendAndAwait flushes a request held whole in the buffer and waits until
// the answer can be read, in one step on the socket: its read side is
// armed before the request goes out, so the wait needs no read of an
// empty socket first, as a read through the net.Conn does — one system
// call per request less, since under load the answer is never there the
// moment the request has been written. roundTrip takes this path only
// with a timeout, whose deadline bounds the wait: a replica that shut
// its side of a connection (FIN) in the instant before its reuse has
// made the socket readable already, and the arming forgets that, so such
// a connection would wait for an answer that cannot come (a plain read
// sees the end at once, and exchange retries on a new connection).
func (c *conn) sendAndAwait() error {
	c.flushed, c.flushErr = false, nil
	err := c.raw.Read(c.await)
	if c.flushErr != nil {
		return c.flushErr
	}
	return err
}

// flushThenWait is await: called first, it sends the request and asks
// to wait for the socket to be readable (false), unless sending failed;
// called again once it is, it is done.
func (c *conn) flushThenWait(uintptr) bool {
	if c.flushed {
		return true
	}
	c.flushed = true
	c.flushErr = c.bw.Flush()
	return c.flushErr != nil
}

// idleConns is a replica's idle connections.
type idleConns struct {
	mu     sync.Mutex
	conns  []*conn
	closed bool // the replica left the pool: nothing is kept any more
}

// peekAfter is how long a connection must have been idle before it is
// peeked at (quiet) for a request that may be sent twice: under load
// connections come back within microseconds, and the peek costs a system
// call; what a replica sends with an answer is caught when the connection
// is kept (keep), and a request that finds the connection closed goes
// again on a new one (exchange). A request that must not be sent twice
// always peeks.
const peekAfter = time.Millisecond

// conn returns an idle connection to t used within fresh, or a new one;
// safe says the request may be sent twice.
func (p *Pool) conn(t *target, fresh time.Duration, safe bool) (*conn, error) {
	now := time.Now()
	ic := &t.idle
	ic.mu.Lock()
	for n := len(ic.conns); n > 0; n = len(ic.conns) {
		c := ic.conns[n-1]
		ic.conns[n-1] = nil
		ic.conns = ic.conns[:n-1]
		if now.Sub(c.idle) < fresh {
			ic.mu.Unlock()
			if (!safe || now.Sub(c.idle) >= peekAfter) && !c.quiet() { // closed by the replica, or stray bytes
				c.Close()
				ic.mu.Lock()
				continue
			}
			c.reused = true
			return c, nil
		}
		// The newest is too old for this request; the older ones are
		// older still. Close them all: the replica may have already.
		ic.mu.Unlock()
		c.Close()
		ic.mu.Lock()
	}
	ic.mu.Unlock()
	return p.dial(t)
}

// quiet is quiet(c) once its last request's deadline, which may have
// passed while it was idle, is off it: the peek would fail on it.
func (c *conn) quiet() bool {
	if c.deadline {
		if c.SetDeadline(time.Time{}) != nil {
			return false
		}
		c.deadline = false
	}
	return quiet(c.Conn)
}

// keep gives c back to t's idle connections, unless the replica sent
// more than the answer (bytes no request asked for).
func (p *Pool) keep(t *target, c *conn) {
	c.idle = time.Now()
	ic := &t.idle
	ic.mu.Lock()
	if ic.closed || len(ic.conns) >= maxIdleConns || c.br.Buffered() > 0 {
		ic.mu.Unlock()
		c.Close()
		return
	}
	ic.conns = append(ic.conns, c)
	ic.mu.Unlock()
}

// closeIdle closes t's idle connections; with forever, t keeps none from
// now on.
func (ic *idleConns) closeIdle(forever bool) {
	ic.mu.Lock()
	conns := ic.conns
	ic.conns = nil
	ic.closed = ic.closed || forever
	ic.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// dialError is a connection that could not be made: nothing was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dial opens a connection to t with the pool's transport settings: its
// dialer (and so its timeout), and for https targets its TLS
// configuration, speaking HTTP/1.1.
func (p *Pool) dial(t *target) (*conn, error) {
	tr := p.http1
	ctx := context.Background()
	dialer := tr.DialContext
	if dialer == nil {
		dialer = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	nc, err := dialer(ctx, "tcp", t.hostPort)
	if err != nil {
		return nil, &dialError{err}
	}
	nc = rawsock.Wrap(nc)
	if t.scheme == "https" {
		cfg := &tls.Config{}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(t.hostPort)
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, cmpTimeout(tr.TLSHandshakeTimeout))
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, &dialError{err}
		}
		nc = tc
	}
	return newConn(nc), nil
}

func cmpTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 10 * time.Second
	}
	return d
}

// isTimeout says whether err is a deadline that passed (fasthttp's
// reader reports the connection's as fasthttp.ErrTimeout, not a net.Error).
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
