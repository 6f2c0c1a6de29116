//go:build !linux || 386

package rawsock

import "net"

// Wrap returns c: raw system calls are used on Linux only (but 386).
func Wrap(c net.Conn) net.Conn { return c }

// Supported says whether Wrap wraps TCP connections on this platform.
const Supported = false

// Wrapped reports whether c reads and writes with raw system calls: never
// here.
func Wrapped(net.Conn) bool { return false }
