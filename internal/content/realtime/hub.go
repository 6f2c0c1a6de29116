package realtime

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Hub holds the connected clients of one replica.
type Hub struct {
	opts     Options
	log      *slog.Logger
	logLimit logLimiter
	win      *window

	// mu guards the connections and their subscriptions. Publish holds it
	// for reading while it fans a change out; changing subscriptions and
	// registering a connection (with its replay) hold it for writing, so
	// each change is either replayed or delivered live, never both.
	mu      sync.RWMutex
	closed  bool
	clients map[string]*client
	byColl  map[string]map[*client]struct{}
	conns   sync.WaitGroup // running connections, for Close
}

// NewHub returns a hub.
func NewHub(o Options) *Hub {
	o = o.withDefaults()
	return &Hub{
		opts:    o,
		log:     o.Logger,
		win:     newWindow(o.WindowSize, o.WindowMaxAge, o.Clock),
		clients: map[string]*client{},
		byColl:  map[string]map[*client]struct{}{},
	}
}

// Publish hands a change to every matching subscriber. It never blocks on
// a client. Changes must come from one goroutine with increasing Seq; a
// change whose Seq is not after the previous one is dropped (redelivery).
// The hub keeps c (in the resume window): its Record must not be modified
// afterwards.
func (h *Hub) Publish(c Change) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return
	}
	e := h.win.add(c)
	if e == nil {
		droppedDuplicate.Inc()
		return
	}
	for cl := range h.byColl[c.Collection] {
		if subs := h.matching(cl.byColl[c.Collection], e); subs != nil {
			cl.enqueue(item{env: e, subs: subs})
		}
	}
}

// SetPosition tells the hub that the next Published change follows seq
// (e.g. the stream's last sequence when the service's consumer starts), so
// that clients resuming from seq or later need no reset. A seq other than
// the newest one clears the resume window.
func (h *Hub) SetPosition(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.win.setPosition(seq)
}

// ServeHTTP serves /v1/realtime: GET as SSE or (with Upgrade) WebSocket,
// POST to replace an SSE connection's subscriptions.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		h.serveUpdate(w, r)
	case r.Method != http.MethodGet:
		httpx.MethodNotAllowedHandler(http.MethodGet, http.MethodPost).ServeHTTP(w, r)
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		h.serveWS(w, r)
	default:
		h.serveSSE(w, r)
	}
}

// Close ends every connection (shutdown), makes ServeHTTP refuse new ones
// with 503, and waits for the connections' handlers to return (each within
// Options.WriteTimeout).
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	all := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.end(endShutdown)
	}
	h.conns.Wait()
}

// open checks a new connection's initial subscriptions and registers it;
// on failure it has answered r with a problem. The caller must unregister
// c when it is done.
func (h *Hub) open(w http.ResponseWriter, r *http.Request, transport string) (*client, []*sub, start, bool) {
	p := principalOf(r)
	specs, err := specsFromQuery(r.URL.Query())
	var subs []*sub
	if err == nil {
		subs, err = h.authorize(r.Context(), p, specs)
	}
	c := newClient(transport, p, h.opts.SendQueue)
	var st start
	if err == nil {
		st, err = h.register(c, subs, lastEventID(r))
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return nil, nil, start{}, false
	}
	return c, subs, st, true
}

// start is where a new connection begins: what it replays, or why it is
// reset, and the position its connect message announces.
type start struct {
	replay   []*envelope
	reset    string
	pos      uint64
	posKnown bool
}

// register adds c with subs and computes its start from lastID (nil: a
// fresh connection). It fails when the hub is closed.
func (h *Hub) register(c *client, subs []*sub, lastID *string) (start, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return start{}, errs.E(errs.Unavailable, CodeUnavailable, "The realtime service is shutting down; reconnect.")
	}
	h.clients[c.id] = c
	h.setSubsLocked(c, subs)
	h.conns.Add(1)
	connectionGauge(c.transport).Inc()

	var st start
	st.pos, st.posKnown = h.win.position()
	if lastID == nil {
		return st, nil
	}
	last, err := strconv.ParseUint(*lastID, 10, 64)
	if err != nil {
		st.reset = resetInvalid
		return st, nil
	}
	st.replay, st.reset = h.win.since(last)
	if st.reset == "" {
		st.pos = last // the replay starts the connection from there
	}
	return st, nil
}

// unregister removes c once its handler is done.
func (h *Hub) unregister(c *client) {
	c.end(endGone)
	h.mu.Lock()
	delete(h.clients, c.id)
	for coll := range c.byColl {
		h.unindexLocked(coll, c)
	}
	c.subs, c.byColl = nil, nil
	h.mu.Unlock()
	connectionGauge(c.transport).Dec()
	h.conns.Done()
}

// principalOf is the request's principal, nil when anonymous.
func principalOf(r *http.Request) *authn.Principal {
	p, _ := authn.FromContext(r.Context())
	return p
}

// lastEventID is the resume point of r: the Last-Event-ID header, else the
// lastEventId query parameter; nil when neither is given.
func lastEventID(r *http.Request) *string {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		return &v
	}
	if v := r.URL.Query().Get("lastEventId"); v != "" {
		return &v
	}
	return nil
}

// samePrincipal reports whether a and b are the same caller: the same
// subject, or both anonymous.
func samePrincipal(a, b *authn.Principal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Subject != "" && a.Subject == b.Subject
}
