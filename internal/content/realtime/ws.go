package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// serveWS serves GET /v1/realtime with Upgrade: websocket.
func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request) {
	c, subs, st, ok := h.open(w, r, transportWS)
	if !ok {
		return
	}
	defer h.unregister(c)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.AllowedOrigins})
	if err != nil {
		return // Accept answered (403 for a foreign origin, 400 for a bad handshake)
	}
	conn.SetReadLimit(h.opts.MaxMessageBytes)

	// The connection outlives nothing of the request but its values (the
	// principal, the request id).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		h.readWS(ctx, conn, c, r)
	}()
	h.run(ctx, c, subs, st, &wsSink{conn: conn, timeout: h.opts.WriteTimeout})
	cancel()
	<-reading
}

// readWS handles the client's messages until the connection ends.
func (h *Hub) readWS(ctx context.Context, conn *websocket.Conn, c *client, r *http.Request) {
	defer c.end(endGone)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		h.handleWS(ctx, c, r, data)
	}
}

// handleWS answers one client message.
func (h *Hub) handleWS(ctx context.Context, c *client, r *http.Request, data []byte) {
	var m wsIn
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || dec.More() {
		c.enqueue(item{raw: h.wsError(r, "", errs.E(errs.Invalid, CodeInvalidMessage,
			"A message must be one JSON object {\"type\": \"subscribe\"|\"unsubscribe\"|\"ping\", …}."))})
		return
	}
	switch m.Type {
	case "subscribe":
		h.wsSubscribe(ctx, c, r, m)
	case "unsubscribe":
		if m.ID == "" {
			c.enqueue(item{raw: h.wsError(r, "", errs.E(errs.Invalid, CodeInvalidMessage, "unsubscribe needs an id."))})
			return
		}
		h.mu.Lock()
		h.dropSubLocked(c, m.ID)
		c.enqueue(item{raw: mustJSON(wsOut{Type: "ack", ID: m.ID})})
		h.mu.Unlock()
	case "ping":
		c.enqueue(item{raw: []byte(`{"type":"pong"}`)})
	default:
		c.enqueue(item{raw: h.wsError(r, m.ID, errs.E(errs.Invalid, CodeInvalidMessage,
			"Unknown message type %q: use subscribe, unsubscribe or ping.", m.Type))})
	}
}

// wsSubscribe adds (or replaces) a subscription. The subscription enters
// the index and the ack is queued with the connection's queue locked, so
// the ack precedes every change of the subscription, and every change
// published after the client read the ack reaches it (queuing the ack
// first let the client see it, and a change be published, before the
// index had the subscription). What the subscription it replaces matched
// is no longer written, unless it is the same one again (setSubsLocked).
func (h *Hub) wsSubscribe(ctx context.Context, c *client, r *http.Request, m wsIn) {
	if m.ID == "" {
		c.enqueue(item{raw: h.wsError(r, "", errs.E(errs.Invalid, CodeInvalidMessage, "subscribe needs an id."))})
		return
	}
	s, err := h.authorizeOne(ctx, c.principal, subSpec{ID: m.ID, Topic: m.Topic, Filter: m.Filter})
	if err != nil {
		c.enqueue(item{raw: h.wsError(r, m.ID, refused(err))})
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(c.subs)
	for _, old := range c.subs {
		if old.name == s.name {
			n--
		}
	}
	if n >= h.opts.MaxSubscriptions {
		c.enqueue(item{raw: h.wsError(r, m.ID, errs.E(errs.Invalid, CodeTooManySubscriptions,
			"At most %d subscriptions per connection.", h.opts.MaxSubscriptions))})
		return
	}
	c.enqueueAfter(item{raw: mustJSON(wsOut{Type: "ack", ID: m.ID})}, func() { h.putSubLocked(c, s) })
}

// wsError encodes err as an error message with the problem's fields.
func (h *Hub) wsError(r *http.Request, id string, err error) []byte {
	p := httpx.ProblemOf(r, err)
	if p.Status >= 500 {
		h.logf("realtime: subscription failed", "error", err)
	}
	return mustJSON(wsOut{Type: "error", ID: id,
		Error: &wsError{Status: p.Status, Code: p.Code, Detail: p.Detail, Errors: p.Errors}})
}

// wsAssembleMax is the largest change sent as one frame assembled in the
// connection's buffer; a larger one is streamed in frames (head, body,
// names) so that the buffer stays small.
const wsAssembleMax = 16 << 10

// wsSink writes WebSocket messages.
type wsSink struct {
	conn    *websocket.Conn
	timeout time.Duration
	buf     []byte // scratch for small changes, at most maxKeptBuffer kept
}

func (s *wsSink) connected(c *client, st start) error {
	m := wsOut{Type: "connected", ClientID: c.id}
	if st.posKnown {
		m.Seq = &st.pos
	}
	if err := s.raw(mustJSON(m)); err != nil {
		return err
	}
	if st.reset != "" {
		return s.raw(mustJSON(wsOut{Type: "reset", Reason: st.reset}))
	}
	return nil
}

func (s *wsSink) change(e *envelope, subs []*sub) error {
	if len(e.body) <= wsAssembleMax {
		s.buf = appendNames(append(e.wsHead(s.buf[:0]), e.body...), subs)
		err := s.raw(s.buf)
		s.buf = trimBuffer(s.buf)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	w, err := s.conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		return err
	}
	s.buf = e.wsHead(s.buf[:0])
	_, err = w.Write(s.buf)
	if err == nil {
		_, err = w.Write(e.body)
	}
	if err == nil {
		s.buf = appendNames(s.buf[:0], subs)
		_, err = w.Write(s.buf)
	}
	s.buf = trimBuffer(s.buf)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *wsSink) raw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

func (s *wsSink) heartbeat() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.conn.Ping(ctx)
}

func (s *wsSink) flush() error { return nil }

func (s *wsSink) final(why ending) {
	switch why.reason {
	case endOverflow:
		_ = s.raw(mustJSON(wsOut{Type: endOverflow, Reason: overflowMessage}))
		_ = s.conn.Close(websocket.StatusTryAgainLater, "send queue overflow")
	case endExpired:
		_ = s.raw(mustJSON(wsOut{Type: endExpired, Reason: expiredMessage(why.detail)}))
		_ = s.conn.Close(websocket.StatusPolicyViolation, "expired")
	case endEnded:
		_ = s.raw(mustJSON(wsOut{Type: endEnded, Reason: why.detail}))
		_ = s.conn.Close(websocket.StatusPolicyViolation, "ended")
	case endShutdown:
		_ = s.conn.Close(websocket.StatusGoingAway, "server shutting down")
	default:
		_ = s.conn.CloseNow()
	}
}
