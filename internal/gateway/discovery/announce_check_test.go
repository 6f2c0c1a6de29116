package discovery

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// strictSink refuses a list with any target a Pool would refuse, as
// upstream.Pool.SetTargets does.
type strictSink struct {
	mu  sync.Mutex
	got []string
}

func (s *strictSink) SetTargets(ts []string) error {
	for _, raw := range ts {
		if err := upstream.CheckTarget(raw); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.got = slices.Clone(ts)
	s.mu.Unlock()
	return nil
}

// TestBadAnnouncedURLIsSkipped: one replica announcing a URL a pool cannot
// use must not keep the good replicas out of the pool.
func TestBadAnnouncedURLIsSkipped(t *testing.T) {
	sink := &strictSink{}
	r := &Registry{}
	r.Add("auth", NewTargets(sink, []string{"http://static:1"}))
	r.Log = quietLog()
	now := time.Now()
	r.hear(Announcement{Service: "auth", Instance: "bad", URL: "ftp://evil/x?y", Ready: true, IntervalMS: 1000}, now)
	r.hear(Announcement{Service: "auth", Instance: "good", URL: "http://good:1", Ready: true, IntervalMS: 1000}, now)
	if want := []string{"http://good:1", "http://static:1"}; !slices.Equal(sink.got, want) {
		t.Errorf("pool targets %v; want %v (the bad URL skipped)", sink.got, want)
	}
	if got := r.Replicas("auth"); !slices.Equal(got, []string{"http://good:1"}) {
		t.Errorf("replicas %v; want only the good one", got)
	}
}

// TestAnnouncedIntervalIsCapped: a replica claiming a huge interval is
// still forgotten three capped intervals after it fell silent.
func TestAnnouncedIntervalIsCapped(t *testing.T) {
	sink := &strictSink{}
	r := &Registry{Log: quietLog()}
	r.Add("auth", NewTargets(sink, nil))
	now := time.Now()
	r.hear(Announcement{Service: "auth", Instance: "a", URL: "http://a:1", Ready: true,
		IntervalMS: int64(365 * 24 * time.Hour / time.Millisecond)}, now)
	if got := r.Replicas("auth"); len(got) != 1 {
		t.Fatalf("replicas %v; want a", got)
	}
	r.sweep(now.Add(3*maxInterval + time.Second))
	if got := r.Replicas("auth"); len(got) != 0 {
		t.Errorf("after 3×%v of silence replicas are %v; want none", maxInterval, got)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
