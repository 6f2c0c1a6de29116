package transport

import (
	"bytes"
	"io"
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestPipeConn holds the in-process connection to net.Conn's contract:
// data both ways, concurrent use, deadlines past, present and future, and
// Close unblocking pending calls.
func TestPipeConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		c1, c2 = pipe()
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}

// TestPipeBothWrite: both ends may write more than one buffer's worth
// before reading, as over a socket with room in its buffers, where
// net.Pipe would deadlock; then each reads what the other sent, and a
// close still lets the other end read what was written before it.
func TestPipeBothWrite(t *testing.T) {
	a, b := pipe()
	defer a.Close()
	defer b.Close()
	msg := bytes.Repeat([]byte("x"), pipeBuffer)
	for _, c := range []net.Conn{a, b} {
		if n, err := c.Write(msg); n != len(msg) || err != nil {
			t.Fatalf("write %d, %v", n, err)
		}
	}
	for _, c := range []net.Conn{a, b} {
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read: %v", err)
		}
	}
	if _, err := a.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if got, err := io.ReadAll(b); string(got) != "last" || err != nil {
		t.Fatalf("after close: %q, %v", got, err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("a write to a closed peer succeeded")
	}
}
