package realtime

import (
	"context"
	"time"
)

// maxBatch bounds the queued messages written between two flushes.
const maxBatch = 64

// sink writes one connection's messages in its transport's format. Only
// the connection's own goroutine calls it.
type sink interface {
	// connected announces the connection (and a reset, if any).
	connected(c *client, st start) error
	// change writes a change (already encoded) with the names of the
	// subscriptions it matched.
	change(e *envelope, subs []*sub) error
	// raw writes a ready control message.
	raw(b []byte) error
	heartbeat() error
	// flush pushes what was written to the client.
	flush() error
	// final says why the connection ends, when the client should know, and
	// closes it.
	final(reason string)
}

// run serves a registered connection until it ends: the connect message,
// the replay (matched against its initial subscriptions), then live
// messages.
func (h *Hub) run(ctx context.Context, c *client, initial []*sub, st start, s sink) {
	err := s.connected(c, st)
	for i := 0; err == nil && i < len(st.replay); i++ {
		if subs := h.matching(initial, st.replay[i]); subs != nil {
			err = h.write(s, item{env: st.replay[i], subs: subs})
		}
		if i%maxBatch == maxBatch-1 && c.ended() {
			break // pump says why
		}
	}
	if err == nil {
		err = s.flush()
	}
	if err != nil {
		s.final(endGone)
		return
	}
	h.pump(ctx, c, s)
}

// pump writes queued messages and heartbeats until the connection ends.
func (h *Hub) pump(ctx context.Context, c *client, s sink) {
	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	var expiry <-chan time.Time
	if p := c.principal; p != nil && !p.ExpiresAt.IsZero() {
		t := time.NewTimer(time.Until(p.ExpiresAt))
		defer t.Stop()
		expiry = t.C
	}
	for {
		if c.ended() { // an ending connection writes nothing more but its final word
			s.final(c.reason())
			return
		}
		var err error
		select {
		case <-c.queue.ready:
			err = h.writeQueued(s, c)
		case <-heartbeat.C:
			if err = s.heartbeat(); err == nil {
				err = s.flush()
			}
		case <-expiry:
			c.end(endExpired)
		case <-c.done:
		case <-ctx.Done():
			c.end(endGone)
		}
		if err != nil {
			c.end(endGone)
		}
	}
}

// writeQueued writes what is queued, flushing after every maxBatch
// messages and when the queue is empty.
func (h *Hub) writeQueued(s sink, c *client) error {
	for n := 1; ; n++ {
		it, ok := c.queue.pop()
		if !ok {
			return s.flush()
		}
		if err := h.write(s, it); err != nil {
			return err
		}
		if n%maxBatch == 0 {
			if err := s.flush(); err != nil || c.ended() {
				return err
			}
		}
	}
}

// write writes one queued message.
func (h *Hub) write(s sink, it item) error {
	if it.env == nil {
		return s.raw(it.raw)
	}
	if sse, _ := it.env.heads(h); sse == nil {
		return nil // not encodable: counted as dropped once
	}
	if err := s.change(it.env, it.subs); err != nil {
		return err
	}
	deliveries.Inc()
	return nil
}
