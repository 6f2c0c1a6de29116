package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"sync/atomic"
	"time"

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
	endEnded    = "ended"    // EndSubject or EndSession
)

// Details of endExpired.
const (
	expiredCredential = "credential" // the principal's ExpiresAt passed
	expiredAge        = "max_age"    // Options.MaxConnectionAge passed
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
	key       string    // what Options.MaxConnectionsPerSubject counts
	shard     uint8     // its shard in the index
	opened    time.Time // for Options.MaxConnectionAge
	// liveAfter is the gen of the last change the connection was not
	// owed live (set by register, read by its own goroutine): queued
	// changes up to it were replayed or came before it connected.
	liveAfter uint64

	subs []*sub // guarded by Hub.mu; in the order they were made

	queue   *queue
	done    chan struct{} // closed when the connection must end
	endOnce sync.Once
	ending  atomic.Pointer[ending]
}

// ending is why a connection ends: one of the end* reasons, and a detail
// (the EndSubject/EndSession reason, or which expiry).
type ending struct{ reason, detail string }

// shardSeq spreads connections over the index's shards.
var shardSeq atomic.Uint32

func newClient(transport string, p *authn.Principal, key string, queue int) *client {
	return &client{
		id:        newClientID(),
		transport: transport,
		principal: p,
		key:       key,
		shard:     uint8(shardSeq.Add(1) % shardCount),
		opened:    time.Now(),
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
func (c *client) enqueue(it item) bool { return c.enqueueAfter(it, nil) }

// enqueueAfter is enqueue that first runs before (unless nil) with c's
// queue locked: a change queued by a Publish that saw what before did
// comes after it.
func (c *client) enqueueAfter(it item, before func()) bool {
	if c.ended() {
		if before != nil {
			before()
		}
		return false
	}
	if c.queue.pushAfter(it, before) {
		return true
	}
	droppedOverflow.Inc()
	c.end(endOverflow)
	return false
}

// end asks the connection to end; the first reason wins.
func (c *client) end(reason string) { c.endWith(reason, "") }

// endWith is end with a detail.
func (c *client) endWith(reason, detail string) {
	c.endOnce.Do(func() {
		c.ending.Store(&ending{reason: reason, detail: detail})
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

// why is why the connection ends (zero while it does not).
func (c *client) why() ending {
	if e := c.ending.Load(); e != nil {
		return *e
	}
	return ending{}
}
