package realtime

import (
	"sort"
	"strconv"
	"sync"
	"time"
)

// Reasons a resume is refused, as sent in a reset.
const (
	resetTooOld  = "too_old" // the id is older than the window
	resetAhead   = "ahead"   // the id is newer than any change this replica has seen
	resetUnknown = "unknown" // the replica does not know its stream position yet
	resetInvalid = "invalid" // the id is not a number
)

// window is the resume buffer: the most recent changes, in Seq order, and
// the position floor after which it holds every change up to newest. A
// Last-Event-ID in [floor, newest] can be resumed exactly. It is bounded
// by a count (the ring), by the encoded size of its changes, and
// optionally by age.
type window struct {
	mu       sync.Mutex
	maxAge   time.Duration
	maxBytes int
	now      func() time.Time
	ring     []*envelope
	head     int // index of the oldest entry
	n        int
	bytes    int    // sum of the entries' sizes
	gen      uint64 // changes added so far: envelope.gen of the newest
	known    bool   // floor and newest are meaningful
	floor    uint64
	newest   uint64
}

func newWindow(size, maxBytes int, maxAge time.Duration, now func() time.Time) *window {
	return &window{ring: make([]*envelope, size), maxBytes: maxBytes, maxAge: maxAge, now: now}
}

// add appends e, stamping its time and gen; false when e's Seq is not
// after the newest change (a redelivery), which must then not be
// delivered.
func (w *window) add(e *envelope) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := e.change.Seq
	if w.known && seq <= w.newest {
		return false
	}
	if !w.known {
		// Nothing is known before the first change: only an id just
		// before it can resume.
		w.known, w.floor = true, seq-min(seq, 1)
	}
	w.gen++
	e.at, e.gen = w.now(), w.gen
	if w.n == len(w.ring) {
		w.evictOldest()
	}
	w.ring[(w.head+w.n)%len(w.ring)] = e
	w.n++
	w.bytes += e.size()
	w.newest = seq
	for w.n > 0 && w.bytes > w.maxBytes {
		w.evictOldest()
	}
	w.evictAged()
	return true
}

// setPosition declares that the next change follows seq. A jump clears the
// window; the same position is a no-op.
func (w *window) setPosition(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.known && seq == w.newest {
		return
	}
	clear(w.ring)
	w.head, w.n, w.bytes = 0, 0, 0
	w.known, w.floor, w.newest = true, seq, seq
}

// position returns the newest Seq, and whether the window knows it.
func (w *window) position() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newest, w.known
}

// start computes where a connection that is already in the index begins,
// resuming after lastID (nil: a fresh connection). Changes added before
// this call are in the replay or not owed (liveAfter is the newest one's
// gen); every later one reaches the connection live.
func (w *window) start(lastID *string) start {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := start{pos: w.newest, posKnown: w.known, liveAfter: w.gen}
	if lastID == nil {
		return st
	}
	last, err := strconv.ParseUint(*lastID, 10, 64)
	if err != nil {
		st.reset = resetInvalid
		return st
	}
	st.replay, st.reset = w.sinceLocked(last)
	if st.reset == "" {
		st.pos = last // the replay starts the connection from there
	}
	return st
}

// since returns the changes after last, or the reason they cannot be
// known.
func (w *window) since(last uint64) ([]*envelope, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sinceLocked(last)
}

func (w *window) sinceLocked(last uint64) ([]*envelope, string) {
	w.evictAged()
	switch {
	case !w.known:
		return nil, resetUnknown
	case last > w.newest:
		return nil, resetAhead
	case last < w.floor:
		return nil, resetTooOld
	}
	first := sort.Search(w.n, func(i int) bool { return w.at(i).change.Seq > last })
	out := make([]*envelope, 0, w.n-first)
	for i := first; i < w.n; i++ {
		out = append(out, w.at(i))
	}
	return out, ""
}

func (w *window) at(i int) *envelope { return w.ring[(w.head+i)%len(w.ring)] }

func (w *window) evictOldest() {
	e := w.ring[w.head]
	w.floor = e.change.Seq
	w.bytes -= e.size()
	w.ring[w.head] = nil
	w.head = (w.head + 1) % len(w.ring)
	w.n--
}

func (w *window) evictAged() {
	if w.maxAge <= 0 {
		return
	}
	cutoff := w.now().Add(-w.maxAge)
	for w.n > 0 && w.ring[w.head].at.Before(cutoff) {
		w.evictOldest()
	}
}
