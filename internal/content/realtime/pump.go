package realtime

import (
	"context"
	"time"
)

// maxBatch bounds the queued messages written between two flushes.
const maxBatch = 64

// maxKeptBuffer is the largest scratch buffer a connection keeps between
// two messages; a larger one (many long subscription names) is dropped
// after use, so that an idle connection holds little.
const maxKeptBuffer = 64 << 10

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
	final(why ending)
}

// run serves a registered connection until it ends: the connect message,
// the replay (matched against its initial subscriptions), then live
// messages.
func (h *Hub) run(ctx context.Context, c *client, initial []*sub, st start, s sink) {
	err := s.connected(c, st)
	for i := 0; err == nil && i < len(st.replay); i++ {
		if subs := h.matching(initial, st.replay[i]); subs != nil {
			err = h.writeChange(s, st.replay[i], subs)
		}
		if i%maxBatch == maxBatch-1 && c.ended() {
			break // pump says why
		}
	}
	if err == nil {
		err = s.flush()
	}
	if err != nil {
		s.final(ending{reason: endGone})
		return
	}
	h.pump(ctx, c, s)
}

// pump writes queued messages and heartbeats until the connection ends.
func (h *Hub) pump(ctx context.Context, c *client, s sink) {
	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	var expiry <-chan time.Time
	at, detail := h.expiry(c)
	if !at.IsZero() {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		expiry = t.C
	}
	for {
		if c.ended() { // an ending connection writes nothing more but its final word
			s.final(c.why())
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
			c.endWith(endExpired, detail)
		case <-c.done:
		case <-ctx.Done():
			c.end(endGone)
		}
		if err != nil {
			c.end(endGone)
		}
	}
}

// expiry is when c must end as expired, and why: its principal's
// ExpiresAt or Options.MaxConnectionAge, whichever comes first (zero:
// never).
func (h *Hub) expiry(c *client) (time.Time, string) {
	var at time.Time
	var detail string
	if age := h.opts.MaxConnectionAge; age > 0 {
		at, detail = c.opened.Add(age), expiredAge
	}
	if p := c.principal; p != nil && !p.ExpiresAt.IsZero() && (at.IsZero() || p.ExpiresAt.Before(at)) {
		at, detail = p.ExpiresAt, expiredCredential
	}
	return at, detail
}

// writeQueued writes what is queued, flushing after every maxBatch
// messages and when the queue is empty.
func (h *Hub) writeQueued(s sink, c *client) error {
	for n := 1; ; n++ {
		it, ok := c.queue.pop()
		if !ok {
			return s.flush()
		}
		if err := h.write(s, c, it); err != nil {
			return err
		}
		if n%maxBatch == 0 {
			if err := s.flush(); err != nil || c.ended() {
				return err
			}
		}
	}
}

// write writes one queued message. A change that c was not owed live
// (replayed, or published before it connected) is skipped.
func (h *Hub) write(s sink, c *client, it item) error {
	switch {
	case it.env == nil:
		return s.raw(it.raw)
	case it.env.gen <= c.liveAfter:
		return nil
	}
	return h.writeChange(s, it.env, it.subs)
}

// writeChange writes a change with the subscriptions it matched that c
// still has. A change whose record could not be encoded (counted when it
// was published) is in the window, which knows its position, but is
// never written.
func (h *Hub) writeChange(s sink, e *envelope, subs []*sub) error {
	if subs = current(subs); len(subs) == 0 || e.body == nil {
		return nil
	}
	if err := s.change(e, subs); err != nil {
		return err
	}
	deliveries.Inc()
	return nil
}

// trimBuffer returns b emptied, or nil when it grew beyond maxKeptBuffer.
func trimBuffer(b []byte) []byte {
	if cap(b) > maxKeptBuffer {
		return nil
	}
	return b[:0]
}
