package realtime

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// serveSSE serves GET /v1/realtime as Server-Sent Events.
func (h *Hub) serveSSE(w http.ResponseWriter, r *http.Request) {
	c, subs, st, ok := h.open(w, r, transportSSE)
	if !ok {
		return
	}
	defer h.unregister(c)

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseSink{w: w, rc: http.NewResponseController(w), timeout: h.opts.WriteTimeout}
	h.run(r.Context(), c, subs, st, s)
}

// sseSink writes Server-Sent Events.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	until   time.Time // the write deadline set last
	buf     []byte    // scratch for heads and names, at most maxKeptBuffer kept
}

func (s *sseSink) connected(c *client, st start) error {
	id := ""
	if st.posKnown {
		id = strconv.FormatUint(st.pos, 10)
	}
	if err := s.event(id, "connect", mustJSON(connectData{ClientID: c.id})); err != nil {
		return err
	}
	if st.reset != "" {
		return s.event("", "reset", mustJSON(reasonData{Reason: st.reset}))
	}
	return nil
}

func (s *sseSink) change(e *envelope, subs []*sub) error {
	s.extendDeadline()
	// The head, the shared body and the names are written apart: the
	// body is never copied into a buffer of this connection.
	s.buf = e.sseHead(s.buf[:0])
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	if _, err := s.w.Write(e.body); err != nil {
		return err
	}
	s.buf = append(appendNames(s.buf[:0], subs), "\n\n"...)
	_, err := s.w.Write(s.buf)
	s.buf = trimBuffer(s.buf)
	return err
}

func (s *sseSink) raw(b []byte) error { return s.write(b) }

func (s *sseSink) heartbeat() error { return s.write([]byte(": ping\n\n")) }

func (s *sseSink) flush() error { return s.rc.Flush() }

func (s *sseSink) final(why ending) {
	var err error
	switch why.reason {
	case endOverflow:
		err = s.event("", why.reason, mustJSON(reasonData{Reason: overflowMessage}))
	case endExpired:
		err = s.event("", why.reason, mustJSON(reasonData{Reason: expiredMessage(why.detail)}))
	case endEnded:
		err = s.event("", why.reason, mustJSON(reasonData{Reason: why.detail}))
	default:
		return // the stream just ends
	}
	if err == nil {
		_ = s.flush()
	}
}

// event writes one event; data is one line of JSON.
func (s *sseSink) event(id, name string, data []byte) error {
	b := s.buf[:0]
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	b = append(append(append(b, "event: "...), name...), '\n')
	b = append(append(append(b, "data: "...), data...), "\n\n"...)
	err := s.write(b)
	s.buf = trimBuffer(b)
	return err
}

// write writes b within the write timeout.
func (s *sseSink) write(b []byte) error {
	s.extendDeadline()
	_, err := s.w.Write(b)
	return err
}

// extendDeadline moves the write deadline when half of it is used up:
// setting it costs as much as a small write.
func (s *sseSink) extendDeadline() {
	if now := time.Now(); s.until.Sub(now) < s.timeout/2 {
		s.until = now.Add(s.timeout)
		_ = s.rc.SetWriteDeadline(s.until) // unsupported by some writers: then no bound
	}
}

// serveUpdate serves POST /v1/realtime: replace an SSE connection's
// subscriptions.
func (h *Hub) serveUpdate(w http.ResponseWriter, r *http.Request) {
	var req updateRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if req.Subscriptions == nil {
		httpx.WriteError(w, r, errs.E(errs.Invalid, CodeInvalidSubscription, "The subscriptions list is required.").
			WithField("subscriptions", "required", "a list, possibly empty"))
		return
	}
	c := h.lookup(req.ClientID, r)
	if c == nil {
		httpx.WriteError(w, r, errNoClient())
		return
	}
	specs := *req.Subscriptions
	subs, err := h.authorize(r.Context(), c.principal, specs)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	h.mu.Lock()
	live := h.clients[c.id] == c
	if live {
		h.setSubsLocked(c, subs)
	}
	h.mu.Unlock()
	if !live {
		httpx.WriteError(w, r, errNoClient())
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, updateResponse{ClientID: c.id, Subscriptions: specs})
}

// lookup finds the SSE connection id that r's principal may change.
func (h *Hub) lookup(id string, r *http.Request) *client {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clients[id]
	if c == nil || c.transport != transportSSE || !samePrincipal(c.principal, principalOf(r)) {
		return nil
	}
	return c
}

// errNoClient is the one answer for unknown, foreign and WebSocket ids.
func errNoClient() error {
	return errs.E(errs.NotFound, CodeNotFound, "No realtime connection has this clientId.")
}
