package realtime

import "sync"

// queue is a connection's bounded FIFO of messages. Unlike a buffered
// channel it holds memory only for what is waiting, which matters with
// tens of thousands of mostly idle connections.
type queue struct {
	mu    sync.Mutex
	items []item
	head  int // index of the first waiting item
	max   int
	ready chan struct{} // signaled (capacity 1) when an item is pushed
}

func newQueue(max int) *queue {
	return &queue{max: max, ready: make(chan struct{}, 1)}
}

// push appends it without blocking; false when max items are waiting.
func (q *queue) push(it item) bool { return q.pushAfter(it, nil) }

// pushAfter is push that first runs before (unless nil) with the queue
// locked, so that nothing is pushed between the two.
func (q *queue) pushAfter(it item, before func()) bool {
	q.mu.Lock()
	if before != nil {
		before()
	}
	if len(q.items)-q.head >= q.max {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pop removes the first item; false when none waits.
func (q *queue) pop() (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return item{}, false
	}
	it := q.items[q.head]
	q.items[q.head] = item{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > 16 {
			q.items = nil // a burst is over: give its memory back
		}
	}
	return it, true
}
