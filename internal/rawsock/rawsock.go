//go:build linux && !386

// Package rawsock reads and writes TCP connections with raw system calls.
//
// The net package makes every read and write a full system call
// (syscall.Syscall): the runtime marks the goroutine's P as in a system
// call, and sysmon, its monitor thread, takes a P it finds in the same
// call twice in a row and hands it to another thread; after that, and
// whenever a system call wakes it from its deep sleep, sysmon polls every
// 20 µs for the next millisecond. A socket of the net package is
// non-blocking, so its reads and writes never wait in the kernel (they
// answer EAGAIN, and the connection waits in the runtime's poller), but
// on a host where a system call is dear they last long enough to be
// caught: in the gateway under load, on a host where a system call cost
// 1 µs, sysmon took 9.4 % of the process's CPU, and the hand-offs it
// causes up to 5 % more. A Conn reads and writes through
// syscall.RawConn with syscall.RawSyscall instead: the same poller, the
// same deadlines, none of that bookkeeping.
//
// No library does this for a net.Conn (event-loop frameworks such as
// gnet replace the poller altogether), hence these few lines. Linux only
// (but 386, whose socket calls go through socketcall); elsewhere Wrap
// returns the connection as it is. Under the race detector the calls are
// syscall's own, whose annotations order what goes through a socket.
package rawsock

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Conn is a TCP connection whose Read and Write are raw system calls.
// Everything else is the *net.TCPConn's. One Read and one Write may run
// at once, as on a net.Conn.
type Conn struct {
	*net.TCPConn
	raw    syscall.RawConn
	rd, wr op
}

// op is one direction's pending call: its buffer, its outcome, and the
// callback RawConn runs, made once. mu keeps it to one call at a time.
type op struct {
	mu  sync.Mutex
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// Supported says whether Wrap wraps TCP connections on this platform.
const Supported = true

// Wrapped reports whether c reads and writes with raw system calls: a
// connection Wrap made.
func Wrapped(c net.Conn) bool {
	_, ok := c.(*Conn)
	return ok
}

// Wrap returns c reading and writing with raw system calls, or c itself
// when it is not a TCP connection whose socket can be reached.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &Conn{TCPConn: tc, raw: raw}
	rc.rd.fn, rc.wr.fn = rc.rd.read, rc.wr.write
	return rc
}

// Read reads into p as net.Conn's Read does: it waits in the poller
// (bounded by the read deadline) until the socket has data, and reports
// the peer's end of the stream as io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.rd.do(c.raw.Read, p)
	switch {
	case err != nil: // deadline, closed, or the system call's
		return 0, c.opError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting in the poller (bounded by the write
// deadline) while the socket's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.wr.do(c.raw.Write, p)
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

// do runs o's callback on p through call (the RawConn's Read or Write),
// one call at a time, and returns what it did.
func (o *op) do(call func(func(fd uintptr) bool) error, p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p, o.n, o.err = p, 0, nil
	err := call(o.fn)
	o.p = nil
	if err == nil {
		err = o.err
	}
	return o.n, err
}

// Quiet reports whether the connection has nothing to read: no bytes, no
// end of stream. It looks once, without waiting.
func (c *Conn) Quiet() bool {
	quiet := false
	err := c.raw.Read(func(fd uintptr) bool {
		quiet = peek(fd) == syscall.EAGAIN // not a byte, not the end, not an error
		return true                        // never wait: one look
	})
	return err == nil && quiet
}

// File is refused: the descriptor's Fd would put the shared socket in
// blocking mode, where a raw read would hold its thread and P.
func (c *Conn) File() (*os.File, error) {
	return nil, c.opError("file", errors.New("rawsock: no File for a connection read with raw system calls"))
}

// opError is err as net reports it. RawConn reports its own (deadline,
// closed) as a *net.OpError of op "raw-read" or "raw-write"; they get op
// instead, as net.Conn's Read and Write give them: net/http, for one,
// takes a failed "read" on a closed connection as routine.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		plain := *oe
		plain.Op = op
		return &plain
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// read is the read callback: done (true) with data, the end of the
// stream or an error; false to wait for the socket to be readable.
func (o *op) read(fd uintptr) bool {
	for {
		n, errno := read(fd, o.p)
		switch errno {
		case 0:
			o.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			o.err = os.NewSyscallError("read", errno)
			return true
		}
	}
}

// write is the write callback: it writes until all of p is out (true) or
// the socket's buffer is full (false: wait until it is writable).
func (o *op) write(fd uintptr) bool {
	for o.n < len(o.p) {
		n, errno := write(fd, o.p[o.n:])
		switch errno {
		case 0:
			if n == 0 {
				o.err = io.ErrUnexpectedEOF
				return true
			}
			o.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.err = os.NewSyscallError("write", errno)
			return true
		}
	}
	return true
}
