package realtime

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
)

// These tests stage, step by step, the interleavings of Publish with
// connections and subscription changes that the lock-free index allows.

// allAuth admits every subscription; its matchers say yes.
type allAuth struct{}

func (allAuth) Subscribe(context.Context, *authn.Principal, Subscription) (Matcher, error) {
	return func(*Change) (bool, error) { return true, nil }, nil
}

// recSink records what a connection writes: "seq:name,name" per change,
// the text of raw messages.
type recSink struct {
	mu  sync.Mutex
	got []string
}

func (r *recSink) connected(*client, start) error { return nil }
func (r *recSink) heartbeat() error               { return nil }
func (r *recSink) flush() error                   { return nil }
func (r *recSink) final(ending)                   {}

func (r *recSink) change(e *envelope, subs []*sub) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	return r.raw([]byte(strconv.FormatUint(e.change.Seq, 10) + ":" + strings.Join(names, ",")))
}

func (r *recSink) raw(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(b))
	return nil
}

func (r *recSink) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// serve runs c on a recSink until its last written line is last, then
// ends it and returns everything written.
func serve(t *testing.T, h *Hub, c *client, subs []*sub, st start, last string) []string {
	t.Helper()
	rec := &recSink{}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		h.run(context.Background(), c, subs, st, rec)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for got := rec.lines(); len(got) == 0 || got[len(got)-1] != last; got = rec.lines() {
		if time.Now().After(deadline) {
			t.Fatalf("wrote %q, want it to end with %q", got, last)
		}
		time.Sleep(time.Millisecond)
	}
	c.end(endGone)
	<-ran
	h.unregister(c)
	return rec.lines()
}

func testHub(t *testing.T) *Hub {
	h := NewHub(Options{Authorizer: allAuth{}, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(h.Close)
	return h
}

func testSubs(t *testing.T, h *Hub, names ...string) []*sub {
	t.Helper()
	specs := make([]subSpec, len(names))
	for i, n := range names {
		specs[i] = subSpec{ID: n, Topic: "posts/*"}
	}
	subs, err := h.authorize(context.Background(), nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

func post(seq uint64) Change {
	return Change{Seq: seq, Action: "created", Collection: "posts", ID: "p", Record: map[string]any{}}
}

// A change that is in the window but not yet fanned out when a client
// resumes is in its replay and in the index it is fanned out with: it is
// written once.
func TestChangeBetweenWindowAndIndexIsWrittenOnce(t *testing.T) {
	h := testHub(t)
	h.Publish(post(1))
	e := h.accept(post(2)) // Publish, first half

	subs := testSubs(t, h, "s")
	c := newClient(transportSSE, nil, "k", 16)
	last := "1"
	st, err := h.register(c, subs, &last)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.replay) != 1 || st.replay[0] != e {
		t.Fatalf("replay = %v, want change 2", st.replay)
	}
	h.live(e) // Publish, second half: the new index has c
	h.Publish(post(3))
	if got := serve(t, h, c, subs, st, "3:s"); !slices.Equal(got, []string{"2:s", "3:s"}) {
		t.Fatalf("wrote %q", got)
	}
}

// A fresh connection is not sent a change published before it connected,
// even when the change reaches it through the index.
func TestFreshConnectionGetsOnlyLaterChanges(t *testing.T) {
	h := testHub(t)
	e := h.accept(post(1))
	subs := testSubs(t, h, "s")
	c := newClient(transportSSE, nil, "k", 16)
	st, _ := h.register(c, subs, nil)
	h.live(e)
	h.Publish(post(2))
	if got := serve(t, h, c, subs, st, "2:s"); !slices.Equal(got, []string{"2:s"}) {
		t.Fatalf("wrote %q", got)
	}
}

// A change fanned out with the index from before an unsubscribe may be
// queued after its ack: it is then written without the name. A
// subscription sent again unchanged keeps it.
func TestChangeInFlightAfterUnsubscribeAck(t *testing.T) {
	h := testHub(t)
	subs := testSubs(t, h, "a", "b", "c")
	c := newClient(transportWS, nil, "k", 16)
	st, _ := h.register(c, subs, nil)

	e := h.accept(post(1))
	old := h.idx.Load()
	h.mu.Lock()
	h.dropSubLocked(c, "a")
	h.putSubLocked(c, testSubs(t, h, "b")[0]) // the same again
	c.enqueue(item{raw: []byte("ack")})
	h.mu.Unlock()
	h.fanout(old.colls["posts"], e) // in flight since before the changes
	c.enqueue(item{raw: []byte("end")})
	if got := serve(t, h, c, subs, st, "end"); !slices.Equal(got, []string{"ack", "1:b,c", "end"}) {
		t.Fatalf("wrote %q", got)
	}
}

// A subscription sent again unchanged, then removed, takes its
// predecessor's in-flight changes with it; so does a replacement with
// another filter.
func TestChangeInFlightAfterReplacements(t *testing.T) {
	h := testHub(t)
	subs := testSubs(t, h, "a", "b")
	c := newClient(transportWS, nil, "k", 16)
	st, _ := h.register(c, subs, nil)

	e := h.accept(post(1))
	old := h.idx.Load()
	again := testSubs(t, h, "a", "b")
	again[1].spec.Filter = "x > 1" // b changes
	h.mu.Lock()
	h.setSubsLocked(c, again)
	h.dropSubLocked(c, "a")
	h.mu.Unlock()
	h.fanout(old.colls["posts"], e)
	h.Publish(post(2))
	if got := serve(t, h, c, subs, st, "2:b"); !slices.Equal(got, []string{"2:b"}) {
		t.Fatalf("wrote %q", got)
	}
}
