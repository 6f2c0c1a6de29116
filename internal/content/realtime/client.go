package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"sync/atomic"

	"github.com/bamhq/bam/internal/authn"
)

// Transports, as in the connections metric.
const (
	transportSSE = "sse"
	transportWS  = "ws"
)

// Why a connection ends.
const (
	endGone     = "gone"     // the client left or a write failed
	endOverflow = "overflow" // its send queue was full
	endExpired  = "expired"  // its principal expired
	endShutdown = "shutdown" // Close
)

// item is one message waiting for a connection: a change with the
// subscriptions it matched, or a ready control message.
type item struct {
	env  *envelope
	subs []*sub
	raw  []byte
}

// client is one connection. Its subscriptions are guarded by the Hub's
// lock; the rest is safe for concurrent use.
type client struct {
	id        string
	transport string
	principal *authn.Principal

	// Guarded by Hub.mu.
	subs   []*sub            // in the order they were made
	byColl map[string][]*sub // subs by collection

	queue     *queue
	done      chan struct{} // closed when the connection must end
	endOnce   sync.Once
	endReason atomic.Value // string
}

func newClient(transport string, p *authn.Principal, queue int) *client {
	return &client{
		id:        newClientID(),
		transport: transport,
		principal: p,
		byColl:    map[string][]*sub{},
		queue:     newQueue(queue),
		done:      make(chan struct{}),
	}
}

// newClientID returns 128 random bits, unguessable.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// enqueue queues it without blocking; a full queue ends the connection.
func (c *client) enqueue(it item) bool {
	if c.ended() {
		return false
	}
	if c.queue.push(it) {
		return true
	}
	droppedOverflow.Inc()
	c.end(endOverflow)
	return false
}

// end asks the connection to end; the first reason wins.
func (c *client) end(reason string) {
	c.endOnce.Do(func() {
		c.endReason.Store(reason)
		close(c.done)
	})
}

// ended reports whether the connection must end.
func (c *client) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// reason is why the connection ends ("" while it does not).
func (c *client) reason() string {
	r, _ := c.endReason.Load().(string)
	return r
}
