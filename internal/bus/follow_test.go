package bus_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
)

// publisher returns a function publishing an event of subject
// bam.<svc>.<subject> on b.
func publisher(t *testing.T, b *bus.Bus, svc string) func(subject string) {
	ctx := ctxT(t)
	return func(subject string) {
		t.Helper()
		ev, err := bus.NewEvent(svc, "bam."+svc+"."+subject, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFollow: a follower started with Since 0 sees only what is stored
// after it starts; one started at LastSeq+1 sees exactly what follows
// the position it read; two followers both see every message (unlike a
// durable consumer's replicas).
func TestFollow(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		ctx := ctxT(t)
		svc := bustest.Service(t, b)
		publish := publisher(t, b, svc)
		publish("old.one") // before any follower: neither sees it
		last, err := b.LastSeq(ctx, svc)
		if err != nil || last != 1 {
			t.Fatalf("LastSeq = %d, %v", last, err)
		}
		follow := func(o bus.FollowOptions) chan uint64 {
			got := make(chan uint64, 16)
			fctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- b.Follow(fctx, o, func(m jetstream.Msg) {
					meta, _ := m.Metadata()
					got <- meta.Sequence.Stream
				})
			}()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Follow: %v", err)
				}
			})
			return got
		}
		fromSeq := follow(bus.FollowOptions{Service: svc, FromSeq: last + 1, What: "test"})
		time.Sleep(100 * time.Millisecond) // the follower below starts from "now"
		fresh := follow(bus.FollowOptions{Service: svc, Subjects: []string{"bam." + svc + ".new.>"}, What: "test"})
		// Two subjects: nats-server 2.10+ filters them, an older one (the
		// external server here may be 2.9) delivers all and Follow filters.
		two := follow(bus.FollowOptions{Service: svc, Subjects: []string{"bam." + svc + ".new.a", "bam." + svc + ".other.*"}, What: "test"})
		time.Sleep(200 * time.Millisecond)
		publish("new.a")
		publish("other.b")
		publish("new.c")
		collect := func(ch chan uint64, n int) []uint64 {
			var out []uint64
			for len(out) < n {
				select {
				case s := <-ch:
					out = append(out, s)
				case <-time.After(5 * time.Second):
					t.Fatalf("got %v, want %d messages", out, n)
				}
			}
			return out
		}
		if got := collect(fromSeq, 3); !slices.Equal(got, []uint64{2, 3, 4}) {
			t.Errorf("from LastSeq+1: %v", got)
		}
		if got := collect(fresh, 2); !slices.Equal(got, []uint64{2, 4}) {
			t.Errorf("new, filtered: %v", got)
		}
		if got := collect(two, 2); !slices.Equal(got, []uint64{2, 3}) {
			t.Errorf("two subjects, filtered: %v", got)
		}
		select {
		case s := <-two:
			t.Errorf("two subjects: also got %d", s)
		case <-time.After(100 * time.Millisecond):
		}
		if err := b.Follow(ctx, bus.FollowOptions{Service: "Bad Name"}, func(jetstream.Msg) {}); err == nil {
			t.Error("a bad service name was accepted")
		}
	})
}

func TestSubjectMatches(t *testing.T) {
	for _, tt := range []struct {
		pattern, subject string
		want             bool
	}{
		{"bam.auth.user.deleted", "bam.auth.user.deleted", true},
		{"bam.auth.user.deleted", "bam.auth.user.created", false},
		{"bam.auth.user.deleted", "bam.auth.user.deleted.x", false},
		{"bam.auth.*.deleted", "bam.auth.user.deleted", true},
		{"bam.auth.*", "bam.auth.user.deleted", false},
		{"bam.auth.>", "bam.auth.user.deleted", true},
		{"bam.auth.>", "bam.auth", false},
		{"bam.>.x", "bam.a.x", false},
		{"*", "bam", true},
		{"bam", "bam.auth", false},
	} {
		if got := bus.SubjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("SubjectMatches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

// TestFollowOneCallAtATime: an ordered consumer that resets (here on a
// reconnection) subscribes again while the handler still runs on the old
// subscription; the next messages must wait for it, not overtake it.
func TestFollowOneCallAtATime(t *testing.T) {
	b := bustest.Open(t, bustest.Embedded)
	ctx := ctxT(t)
	svc := bustest.Service(t, b)
	publish := publisher(t, b, svc)
	var running, most atomic.Int32
	first, release := make(chan struct{}), make(chan struct{})
	order := make(chan uint64, 16)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Follow(fctx, bus.FollowOptions{Service: svc, FromSeq: 1, What: "test"}, func(m jetstream.Msg) {
			n := running.Add(1)
			defer running.Add(-1)
			for old := most.Load(); n > old && !most.CompareAndSwap(old, n); old = most.Load() {
			}
			meta, _ := m.Metadata()
			if meta.Sequence.Stream == 1 {
				close(first)
				<-release
			}
			order <- meta.Sequence.Stream
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	})
	publish("a")
	<-first
	if err := b.Conn().ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the consumer resets while message 1 is in fn
	publish("b")
	publish("c")
	time.Sleep(time.Second) // without the lock, 2 and 3 are handled meanwhile
	close(release)
	var got []uint64
	for len(got) < 3 {
		select {
		case s := <-order:
			got = append(got, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("handled %v, want 3 messages", got)
		}
	}
	if !slices.Equal(got, []uint64{1, 2, 3}) || most.Load() != 1 {
		t.Fatalf("handled %v with up to %d calls at once, want [1 2 3] one at a time", got, most.Load())
	}
}
