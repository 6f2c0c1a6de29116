package realtime

import (
	"slices"
	"testing"
	"time"
)

func windowSeqs(es []*envelope) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.change.Seq
	}
	return out
}

func TestWindowKeepsTheLastChanges(t *testing.T) {
	w := newWindow(3, 0, time.Now)
	if _, reason := w.since(0); reason != resetUnknown {
		t.Fatalf("empty window: %q", reason)
	}
	for _, seq := range []uint64{10, 12, 15, 20} {
		if w.add(Change{Seq: seq}) == nil {
			t.Fatalf("add %d refused", seq)
		}
	}
	if w.add(Change{Seq: 20}) != nil || w.add(Change{Seq: 3}) != nil {
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
	w := newWindow(10, 0, time.Now)
	w.add(Change{Seq: 5})
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
	w.add(Change{Seq: 101})
	if got, _ := w.since(100); !slices.Equal(windowSeqs(got), []uint64{101}) {
		t.Fatalf("since(100) = %v", windowSeqs(got))
	}
}

func TestWindowMaxAge(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w := newWindow(100, time.Minute, func() time.Time { return now })
	w.add(Change{Seq: 1})
	w.add(Change{Seq: 2})
	now = now.Add(40 * time.Second)
	w.add(Change{Seq: 3})
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
