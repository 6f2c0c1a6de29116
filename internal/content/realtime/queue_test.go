package realtime

import "testing"

func TestQueueIsABoundedFIFO(t *testing.T) {
	q := newQueue(3)
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue")
	}
	next, want := 0, 0
	push := func() bool {
		ok := q.push(item{raw: []byte{byte(next)}})
		if ok {
			next++
		}
		return ok
	}
	pop := func() {
		t.Helper()
		it, ok := q.pop()
		if !ok || int(it.raw[0]) != want {
			t.Fatalf("pop = %v %v, want %d", it.raw, ok, want)
		}
		want++
	}
	for round := range 50 { // interleaved, so the ring compacts and wraps
		for push() {
		}
		if got := len(q.items) - q.head; got != 3 {
			t.Fatalf("round %d: %d waiting, want 3", round, got)
		}
		pop()
		pop()
	}
	pop()
	if _, ok := q.pop(); ok {
		t.Fatal("the queue should be empty")
	}
	if len(q.ready) != 1 {
		t.Fatal("push did not signal")
	}
}
