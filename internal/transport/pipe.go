package transport

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeBuffer is how many bytes a direction of a pipe holds before Write
// blocks: a small socket buffer. Unlike net.Pipe, whose writes wait for a
// read, it lets both ends write at once — a WebSocket server closing while
// its client still sends, say — as they may over TCP.
const pipeBuffer = 64 << 10

// pipe returns the two ends of a buffered, full-duplex, in-memory
// connection with deadlines: a hijacked in-process connection.
func pipe() (net.Conn, net.Conn) {
	ab, ba := newStream(), newStream()
	return &pipeConn{in: ba, out: ab, rd: newDeadline(), wd: newDeadline(), done: make(chan struct{})},
		&pipeConn{in: ab, out: ba, rd: newDeadline(), wd: newDeadline(), done: make(chan struct{})}
}

// stream is one direction of a pipe.
type stream struct {
	mu       sync.Mutex
	buf      []byte
	eof      bool // the writing end closed: reads drain buf, then io.EOF
	gone     bool // the reading end closed: writes fail
	readable chan struct{}
	writable chan struct{}
}

func newStream() *stream {
	return &stream{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// read copies buffered bytes into p; ok is false when there are none yet.
func (s *stream) read(p []byte) (n int, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.buf) > 0:
		n = copy(p, s.buf)
		s.buf = s.buf[n:]
		if len(s.buf) == 0 {
			s.buf = nil // keep no buffer on an idle connection
		}
		signal(s.writable)
		if len(s.buf) > 0 {
			signal(s.readable)
		}
		return n, true, nil
	case s.eof:
		return 0, true, io.EOF
	}
	return 0, false, nil
}

// write buffers what fits of p; ok is false when nothing did.
func (s *stream) write(p []byte) (n int, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.eof {
		return 0, true, io.ErrClosedPipe
	}
	n = min(len(p), pipeBuffer-len(s.buf))
	if n == 0 {
		return 0, false, nil
	}
	s.buf = append(s.buf, p[:n]...)
	signal(s.readable)
	return n, true, nil
}

func (s *stream) closeWrite() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	signal(s.readable)
}

func (s *stream) closeRead() {
	s.mu.Lock()
	s.gone, s.buf = true, nil
	s.mu.Unlock()
	signal(s.writable)
}

// pipeConn is one end of a pipe.
type pipeConn struct {
	in, out   *stream
	rd, wd    *deadline
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func (c *pipeConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		select {
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		default:
		}
		if n, ok, err := c.in.read(p); ok {
			return n, err
		}
		select {
		case <-c.in.readable:
		case <-c.done:
		case <-c.rd.wait():
		}
	}
}

func (c *pipeConn) Write(p []byte) (int, error) {
	written := 0
	for {
		select {
		case <-c.done:
			return written, net.ErrClosed
		case <-c.wd.wait():
			return written, os.ErrDeadlineExceeded
		default:
		}
		n, ok, err := c.out.write(p[written:])
		written += n
		if err != nil || written == len(p) {
			return written, err
		}
		if ok {
			continue
		}
		select {
		case <-c.out.writable:
		case <-c.done:
		case <-c.wd.wait():
		}
	}
}

// Close ends both directions: the other end reads what was written, then
// io.EOF; its writes fail.
func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.out.closeWrite()
		c.in.closeRead()
	})
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr{} }

func (c *pipeConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// deadline is a settable point in time whose channel closes when it
// passes (the zero time: never).
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	passed chan struct{}
}

func newDeadline() *deadline { return &deadline{passed: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.passed // the timer fired: wait for it to close the channel
	}
	d.timer = nil
	select {
	case <-d.passed:
		d.passed = make(chan struct{}) // a new deadline after one passed
	default:
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		passed := d.passed
		d.timer = time.AfterFunc(dur, func() { close(passed) })
		return
	}
	close(d.passed)
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}
