package realtime

import (
	"sort"
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
// Last-Event-ID in [floor, newest] can be resumed exactly.
type window struct {
	mu     sync.Mutex
	maxAge time.Duration
	now    func() time.Time
	ring   []*envelope
	head   int // index of the oldest entry
	n      int
	known  bool // floor and newest are meaningful
	floor  uint64
	newest uint64
}

func newWindow(size int, maxAge time.Duration, now func() time.Time) *window {
	return &window{ring: make([]*envelope, size), maxAge: maxAge, now: now}
}

// add appends c and returns its envelope, or nil when c.Seq is not after
// the newest change (a redelivery), which must then not be delivered.
func (w *window) add(c Change) *envelope {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.known && c.Seq <= w.newest {
		return nil
	}
	if !w.known {
		// Nothing is known before the first change: only an id just
		// before it can resume.
		w.known, w.floor = true, c.Seq-min(c.Seq, 1)
	}
	e := &envelope{change: c, at: w.now()}
	if w.n == len(w.ring) {
		w.evictOldest()
	}
	w.ring[(w.head+w.n)%len(w.ring)] = e
	w.n++
	w.newest = c.Seq
	w.evictAged()
	return e
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
	w.head, w.n = 0, 0
	w.known, w.floor, w.newest = true, seq, seq
}

// position returns the newest Seq, and whether the window knows it.
func (w *window) position() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newest, w.known
}

// since returns the changes after last, or the reason they cannot be
// known.
func (w *window) since(last uint64) ([]*envelope, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
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
	w.floor = w.ring[w.head].change.Seq
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
