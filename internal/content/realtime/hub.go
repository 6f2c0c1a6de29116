package realtime

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

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

	// idx is the subscription index, read by Publish without a lock and
	// replaced under mu (see index.go).
	idx    atomic.Pointer[index]
	closed atomic.Bool // set under mu

	// mu guards the connections, their subscriptions and the per-key
	// counts, and serialises the index's replacements. Publish never
	// takes it.
	mu      sync.Mutex
	clients map[string]*client
	perKey  map[string]int // open connections by client.key
	ended   ended          // recent EndSubject/EndSession/EndAPIKey (end.go)
	conns   sync.WaitGroup // running connections, for Close
}

// NewHub returns a hub.
func NewHub(o Options) *Hub {
	o = o.withDefaults()
	h := &Hub{
		opts:    o,
		log:     o.Logger,
		win:     newWindow(o.WindowSize, o.WindowMaxBytes, o.WindowMaxAge, o.Clock),
		clients: map[string]*client{},
		perKey:  map[string]int{},
	}
	h.idx.Store(&index{})
	return h
}

// Publish hands a change to every matching subscriber. It never blocks on
// a client, and takes no lock that connecting or subscribing takes: the
// Matchers run on a snapshot of the subscriptions (see the package
// comment). Changes must come from one goroutine with increasing Seq; a
// change whose Seq is not after the previous one is dropped (redelivery).
// The hub keeps c (in the resume window): its Record and RecordJSON must
// not be modified afterwards.
func (h *Hub) Publish(c Change) {
	if h.closed.Load() {
		return
	}
	if e := h.accept(c); e != nil {
		h.live(e)
	}
}

// accept encodes c and puts it in the resume window; nil when it is not
// to be delivered (a redelivery, or not encodable).
func (h *Hub) accept(c Change) *envelope {
	e := h.newEnvelope(c)
	if !h.win.add(e) {
		droppedDuplicate.Inc()
		return nil
	}
	if e.body == nil {
		return nil // counted as dropped
	}
	return e
}

// live queues e for the connections of the current index. Called after
// e is in the window: a connection registered since then is in this
// snapshot, and one registered before it got e in its replay or is not
// owed it (client.liveAfter), so each gets e once.
func (h *Hub) live(e *envelope) {
	if ci := h.idx.Load().colls[e.change.Collection]; ci != nil {
		h.fanout(ci, e)
	}
}

// SetPosition tells the hub that the next Published change follows seq
// (e.g. the stream's last sequence when the service's consumer starts), so
// that clients resuming from seq or later need no reset. A seq other than
// the newest one clears the resume window.
func (h *Hub) SetPosition(seq uint64) {
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
	h.closed.Store(true)
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
	c := newClient(transport, p, h.limitKey(p, r), h.opts.SendQueue)
	var st start
	if err == nil {
		st, err = h.register(c, subs, lastEventID(r))
	}
	if err != nil {
		if errs.KindOf(err) == errs.TooManyRequests {
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		httpx.WriteError(w, r, err)
		return nil, nil, start{}, false
	}
	return c, subs, st, true
}

// start is where a new connection begins: what it replays, or why it is
// reset, the position its connect message announces, and the gen of the
// last change it is not owed live.
type start struct {
	replay    []*envelope
	reset     string
	pos       uint64
	posKnown  bool
	liveAfter uint64
}

// register adds c with subs and computes its start from lastID (nil: a
// fresh connection). It fails when the hub is closed or c's key has too
// many connections.
func (h *Hub) register(c *client, subs []*sub, lastID *string) (start, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return start{}, errs.E(errs.Unavailable, CodeUnavailable, "The realtime service is shutting down; reconnect.")
	}
	if h.ended.covers(c.principal, h.opts.Clock()) {
		return start{}, errEnded()
	}
	if limit := h.opts.MaxConnectionsPerSubject; limit > 0 && h.perKey[c.key] >= limit {
		refusedConnections.Inc()
		return start{}, errs.E(errs.TooManyRequests, CodeTooManyConnections,
			"At most %d realtime connections per user (or address, when anonymous); close one first.", limit)
	}
	h.perKey[c.key]++
	h.clients[c.id] = c
	h.setSubsLocked(c, subs)
	h.conns.Add(1)
	connectionGauge(c.transport).Inc()

	// c is in the index now, so every change the window gets from here on
	// reaches it live; start splits the earlier ones off.
	st := h.win.start(lastID)
	c.liveAfter = st.liveAfter
	return st, nil
}

// unregister removes c once its handler is done.
func (h *Hub) unregister(c *client) {
	c.end(endGone)
	h.mu.Lock()
	delete(h.clients, c.id)
	if h.perKey[c.key]--; h.perKey[c.key] <= 0 {
		delete(h.perKey, c.key)
	}
	h.setSubsLocked(c, nil)
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
