//go:build unix

package upstream

import (
	"crypto/tls"
	"net"
	"syscall"
)

// quiet reports whether an idle connection has nothing to read: no bytes
// a request did not ask for, no end of stream (the replica closed it). Go's
// transport learns this from the read loop every connection has; Forward's
// connections have none, so it peeks at the socket, without blocking, once
// before each reuse.
func quiet(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // a TLS record waiting (close_notify) counts as bytes
	}
	if q, ok := c.(interface{ Quiet() bool }); ok { // rawsock's: without the runtime's system call bookkeeping
		return q.Quiet()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	idle := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true // never wait: one look
	})
	return err == nil && idle
}
