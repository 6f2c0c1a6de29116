//go:build linux

package rawsock_test

import (
	"bytes"
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
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Write(make([]byte, 64<<20))
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
