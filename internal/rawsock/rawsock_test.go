//go:build linux && !386

package rawsock_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/rawsock"
)

// pair returns the two ends of a loopback TCP connection, the first
// wrapped.
func pair(t *testing.T) (*rawsock.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	rc, ok := rawsock.Wrap(c).(*rawsock.Conn)
	if !ok {
		t.Fatalf("Wrap(%T) is not a *rawsock.Conn", c)
	}
	return rc, peer
}

func TestWrapLeavesOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := rawsock.Wrap(a); got != a {
		t.Errorf("Wrap(pipe) = %T, want the pipe itself", got)
	}
}

// TestReadWrite: bytes both ways, a write far larger than the socket's
// buffers (it waits in the poller until the peer reads), and the peer's
// close as io.EOF after the last byte.
func TestReadWrite(t *testing.T) {
	c, peer := pair(t)
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(big))
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not what was written", len(b))
	}
	_, _ = peer.Write([]byte("bye"))
	peer.Close()
	all, err := io.ReadAll(c)
	if err != nil || string(all) != "bye" {
		t.Errorf("ReadAll = %q, %v; want bye and EOF", all, err)
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("Read after the end = %v, want io.EOF", err)
	}
}

// TestDeadlines: a read with nothing to read and a write to a peer that
// does not read end at their deadlines, with a net.Error that says so.
func TestDeadlines(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	if oe, ok := err.(*net.OpError); !ok || oe.Op != "read" {
		t.Errorf("read past the deadline: %#v, want a *net.OpError of op read, as net.Conn's", err)
	}
	big := make([]byte, 64<<20) // more than the socket takes
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := c.Write(big)
	if !errors.As(err, &ne) || !ne.Timeout() || n == 0 || n == 64<<20 {
		t.Errorf("write past the deadline: %d bytes, %v; want some bytes and a timeout", n, err)
	}
}

// TestConcurrentReadWrite: one Read and one Write at once, as net/http's
// server does (its background read while it writes an answer).
func TestConcurrentReadWrite(t *testing.T) {
	c, peer := pair(t)
	go func() { _, _ = io.Copy(peer, peer) }() // echo
	msg := bytes.Repeat([]byte("x"), 1<<20)
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		done <- err
	}()
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("echo: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestQuiet: an idle connection is quiet; one with a byte waiting, or
// whose peer has closed, is not.
func TestQuiet(t *testing.T) {
	c, peer := pair(t)
	if !c.Quiet() {
		t.Error("idle connection not quiet")
	}
	_, _ = peer.Write([]byte("x"))
	waitFor(t, func() bool { return !c.Quiet() }, "a waiting byte")
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if !c.Quiet() {
		t.Error("quiet again after the byte was read: want true")
	}
	peer.Close()
	waitFor(t, func() bool { return !c.Quiet() }, "the peer's close")
	c.Close()
	if c.Quiet() {
		t.Error("a closed connection is quiet")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Quiet did not see %s", what)
		}
	}
}

// TestOrdersThroughTheSocket: what a goroutine wrote before writing to a
// wrapped connection is visible to the one that read it from the other
// end, for the race detector as in fact (under -race a Conn uses
// syscall's annotated calls).
func TestOrdersThroughTheSocket(t *testing.T) {
	c, peer := pair(t)
	var v int
	go func() {
		v = 1
		_, _ = c.Write([]byte("x"))
	}()
	if _, err := io.ReadFull(peer, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Errorf("v = %d after the byte arrived", v)
	}
}

// TestConcurrentReads: two Reads at once each get bytes of their own; none
// is lost or read twice.
func TestConcurrentReads(t *testing.T) {
	c, peer := pair(t)
	const n = 1 << 16
	msg := make([]byte, n)
	for i := range msg {
		msg[i] = byte(i % 251)
	}
	got := make(chan []byte, 2)
	for range 2 {
		go func() {
			var mine []byte
			buf := make([]byte, 512)
			for {
				k, err := c.Read(buf)
				mine = append(mine, buf[:k]...)
				if err != nil {
					got <- mine
					return
				}
			}
		}()
	}
	if _, err := peer.Write(msg); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	a, b := <-got, <-got
	if len(a)+len(b) != n {
		t.Fatalf("read %d + %d bytes, want %d in all", len(a), len(b), n)
	}
	var count [251]int
	for _, x := range append(a, b...) {
		count[x]++
	}
	for v, k := range count {
		if want := n/251 + btoi(v < n%251); k != want {
			t.Fatalf("byte %d read %d times, want %d", v, k, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWrapDial: a dial hook wrapped hands out wrapped connections, and
// its errors as they are.
func TestWrapDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var d net.Dialer
	c, err := rawsock.WrapDial(d.DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !rawsock.Wrapped(c) {
		t.Errorf("dialled a %T", c)
	}
	refused := errors.New("refused")
	if _, err := rawsock.WrapDial(func(context.Context, string, string) (net.Conn, error) { return nil, refused })(
		t.Context(), "tcp", "x"); err != refused {
		t.Errorf("error %v, want the dial's", err)
	}
}
