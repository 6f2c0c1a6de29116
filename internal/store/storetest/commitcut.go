package storetest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/testenv"
)

// CommitCutter sits between a test's database and PostgreSQL, passing
// bytes through until it is armed: then it lets the next COMMIT of a big
// enough transaction reach the server, and breaks that connection before
// the server's answer reaches the client. The transaction is applied and
// the client cannot know it: the ambiguous outcome a network failure
// gives.
type CommitCutter struct {
	armed atomic.Int64 // the statements a transaction must have run for its COMMIT to be cut; 0 when unarmed
	cuts  atomic.Int64
}

// OpenCutOnCommit returns a fresh PostgreSQL database (as Open) whose
// connections go through a CommitCutter, and the cutter. It skips or fails
// t as testenv.PostgresURL does.
func OpenCutOnCommit(t testing.TB, sets ...store.MigrationSet) (*store.DB, *CommitCutter) {
	t.Helper()
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("storetest: PostgreSQL URL: %v", err)
	}
	server := u.Host
	if u.Port() == "" {
		server = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &CommitCutter{}
	var (
		mu     sync.Mutex
		open   = map[net.Conn]bool{}
		closed bool
		relays sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for conn := range open {
			conn.Close() // ends its relay, whatever the test left open
		}
		mu.Unlock()
		relays.Wait()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				client.Close()
				return
			}
			open[client] = true
			relays.Add(1)
			mu.Unlock()
			go func() {
				defer relays.Done()
				c.serve(client, server)
				mu.Lock()
				delete(open, client)
				mu.Unlock()
			}()
		}
	}()
	// The cutter reads the protocol in the clear.
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return openDB(t, store.Postgres, u.String(), sets...), c
}

// Arm makes c cut the next COMMIT of a transaction that ran at least
// statements statements (each statement with arguments, and each other
// simple query but BEGIN), once.
func (c *CommitCutter) Arm(statements int) { c.armed.Store(int64(max(statements, 1))) }

// Cuts is how many COMMITs c has cut.
func (c *CommitCutter) Cuts() int { return int(c.cuts.Load()) }

// serve relays one client connection to the server. Client to server it
// reads message by message (the protocol's startup message has no type
// byte; every later one is a type byte and a length), to count each
// transaction's statements and find its simple query "commit", which is
// how database/sql's pgx driver commits.
func (c *CommitCutter) serve(client net.Conn, server string) {
	defer client.Close()
	up, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer up.Close()
	var cut atomic.Bool
	go func() {
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if cut.Load() {
				return // the answer to the cut COMMIT never arrives
			}
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	startup, ran := true, 0
	for {
		msg, err := readMessage(client, startup)
		if err != nil {
			return
		}
		// An SSL or GSS encryption request is answered with one byte, and
		// the startup message follows.
		startup = startup && len(msg) == 8 && binary.BigEndian.Uint32(msg[4:]) >= sslRequestCode
		switch q := simpleQuery(msg); {
		case strings.HasPrefix(q, "begin"):
			ran = 0
		case q == "commit":
			if n := c.armed.Load(); n > 0 && int64(ran) >= n && c.armed.CompareAndSwap(n, 0) {
				// The reader above drops the answer and closes the client.
				cut.Store(true)
				c.cuts.Add(1)
			}
		case q != "" || msg[0] == 'B':
			ran++
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
	}
}

// sslRequestCode is the first of the protocol's encryption request codes
// (SSLRequest, then GSSENCRequest).
const sslRequestCode = 80877103

// readMessage reads one protocol message whole.
func readMessage(r io.Reader, startup bool) ([]byte, error) {
	head := 5
	if startup {
		head = 4
	}
	msg := make([]byte, head)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:])) - 4
	if n < 0 || n > 64<<20 {
		return nil, io.ErrUnexpectedEOF
	}
	msg = append(msg, make([]byte, n)...)
	_, err := io.ReadFull(r, msg[head:])
	return msg, err
}

// simpleQuery returns the text of msg in lower case if it is a simple
// query, "" if not.
func simpleQuery(msg []byte) string {
	if len(msg) < 6 || msg[0] != 'Q' {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(string(bytes.TrimRight(msg[5:], "\x00"))))
}
