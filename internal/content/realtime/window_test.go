package realtime

import (
	"slices"
	"testing"
	"time"
)

// env is an envelope of a change with seq and a body of size bytes.
func env(seq uint64, size ...int) *envelope {
	e := &envelope{change: Change{Seq: seq}}
	if len(size) > 0 {
		e.body = make([]byte, size[0])
	}
	return e
}

func windowSeqs(es []*envelope) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.change.Seq
	}
	return out
}

func TestWindowKeepsTheLastChanges(t *testing.T) {
	w := newWindow(3, 1<<30, 0, time.Now)
	if _, reason := w.since(0); reason != resetUnknown {
		t.Fatalf("empty window: %q", reason)
	}
	for _, seq := range []uint64{10, 12, 15, 20} {
		if !w.add(env(seq)) {
			t.Fatalf("add %d refused", seq)
		}
	}
	if w.add(env(20)) || w.add(env(3)) {
		t.Fatal("a Seq not after the newest was accepted")
	}
	if pos, ok := w.position(); pos != 20 || !ok {
		t.Fatalf("position = %d %v", pos, ok)
	}
	for _, tc := range []struct {
		last   uint64
		want   []uint64
		reason string
	}{
		{9, nil, resetTooOld},
		{11, []uint64{12, 15, 20}, ""}, // every change after 10 is here, so after 11 too
		{10, []uint64{12, 15, 20}, ""}, // 10 was evicted last: everything after it is here
		{13, []uint64{15, 20}, ""}, {15, []uint64{20}, ""}, {20, []uint64{}, ""},
		{21, nil, resetAhead},
	} {
		got, reason := w.since(tc.last)
		if reason != tc.reason || (reason == "" && !slices.Equal(windowSeqs(got), tc.want)) {
			t.Errorf("since(%d) = %v %q, want %v %q", tc.last, windowSeqs(got), reason, tc.want, tc.reason)
		}
	}
}

func TestWindowFirstChangeAndPosition(t *testing.T) {
	w := newWindow(10, 1<<30, 0, time.Now)
	w.add(env(5))
	if got, reason := w.since(4); reason != "" || !slices.Equal(windowSeqs(got), []uint64{5}) {
		t.Fatalf("since(4) = %v %q: the id just before the first change resumes", windowSeqs(got), reason)
	}
	if _, reason := w.since(3); reason != resetTooOld {
		t.Fatalf("since(3) = %q", reason)
	}
	w.setPosition(5) // the same position: nothing changes
	if got, _ := w.since(4); len(got) != 1 {
		t.Fatal("setPosition at the newest cleared the window")
	}
	w.setPosition(100) // a jump: nothing before is known
	if _, reason := w.since(5); reason != resetTooOld {
		t.Fatalf("since(5) after the jump = %q", reason)
	}
	if got, reason := w.since(100); reason != "" || len(got) != 0 {
		t.Fatalf("since(100) = %v %q", got, reason)
	}
	w.add(env(101))
	if got, _ := w.since(100); !slices.Equal(windowSeqs(got), []uint64{101}) {
		t.Fatalf("since(100) = %v", windowSeqs(got))
	}
}

func TestWindowMaxAge(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w := newWindow(100, 1<<30, time.Minute, func() time.Time { return now })
	w.add(env(1))
	w.add(env(2))
	now = now.Add(40 * time.Second)
	w.add(env(3))
	now = now.Add(30 * time.Second) // 1 and 2 are 70 s old
	if _, reason := w.since(0); reason != resetTooOld {
		t.Fatalf("since(0) = %q", reason)
	}
	if got, reason := w.since(2); reason != "" || !slices.Equal(windowSeqs(got), []uint64{3}) {
		t.Fatalf("since(2) = %v %q", windowSeqs(got), reason)
	}
	now = now.Add(time.Hour)
	if got, reason := w.since(3); reason != "" || len(got) != 0 {
		t.Fatalf("since(3) after everything aged out = %v %q: the position is still known", windowSeqs(got), reason)
	}
}

func TestWindowMaxBytes(t *testing.T) {
	w := newWindow(100, 1000, 0, time.Now)
	for seq := uint64(1); seq <= 5; seq++ {
		w.add(env(seq, 300))
	}
	// 5 × 300 > 1000: only the last 3 fit; 2 was evicted last.
	if got, reason := w.since(2); reason != "" || !slices.Equal(windowSeqs(got), []uint64{3, 4, 5}) {
		t.Fatalf("since(2) = %v %q", windowSeqs(got), reason)
	}
	if _, reason := w.since(1); reason != resetTooOld {
		t.Fatalf("since(1) = %q", reason)
	}
	if w.bytes != 900 {
		t.Fatalf("bytes = %d, want 900", w.bytes)
	}
	// A change larger than the bound evicts everything, itself included:
	// the position is still known.
	w.add(env(6, 5000))
	if got, reason := w.since(6); reason != "" || len(got) != 0 || w.bytes != 0 || w.n != 0 {
		t.Fatalf("since(6) = %v %q, bytes %d, n %d", windowSeqs(got), reason, w.bytes, w.n)
	}
	if _, reason := w.since(5); reason != resetTooOld {
		t.Fatalf("since(5) = %q", reason)
	}
	w.add(env(7, 10))
	w.setPosition(100)
	if w.bytes != 0 {
		t.Fatalf("bytes after a jump = %d", w.bytes)
	}
}

func TestWindowStartSplitsReplayFromLive(t *testing.T) {
	w := newWindow(10, 1<<30, 0, time.Now)
	a, b := env(1), env(2)
	w.add(a)
	w.add(b)
	last := "1"
	st := w.start(&last)
	if st.reset != "" || st.pos != 1 || !slices.Equal(windowSeqs(st.replay), []uint64{2}) || st.liveAfter != b.gen {
		t.Fatalf("start = %+v", st)
	}
	c := env(3)
	w.add(c)
	if c.gen <= st.liveAfter || a.gen >= b.gen {
		t.Fatalf("gens %d %d %d, liveAfter %d", a.gen, b.gen, c.gen, st.liveAfter)
	}
	// A jump of the position keeps gens increasing.
	w.setPosition(0)
	d := env(1)
	w.add(d)
	if d.gen <= c.gen {
		t.Fatalf("gen after a jump = %d", d.gen)
	}
	if st := w.start(nil); st.pos != 1 || !st.posKnown || st.liveAfter != d.gen || st.replay != nil {
		t.Fatalf("fresh start = %+v", st)
	}
}
