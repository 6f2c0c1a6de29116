package discovery_test

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/testenv"
)

// TestRegistry: announced replicas join their service's targets beside the
// static ones; a goodbye, a not-ready announcement and silence remove them;
// services the registry does not track are ignored.
func TestRegistry(t *testing.T) {
	b, err := bus.Open(t.Context(), bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sink := &recordSink{}
	targets := discovery.NewTargets(sink, []string{"http://static:1"})
	reg := &discovery.Registry{Conn: b.Conn()}
	reg.Add("auth", targets)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(ctx) }()
	defer func() { cancel(); <-done }()

	announce := func(a discovery.Announcement) {
		a.Service = cmp.Or(a.Service, "auth")
		if a.IntervalMS == 0 {
			a.IntervalMS = 60_000
		}
		data, _ := json.Marshal(a)
		if err := b.Conn().Publish(discovery.Subject, data); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, want ...string) {
		t.Helper()
		testenv.WaitFor(t, 5*time.Second, what, func() bool { return slices.Equal(sink.last(), want) })
	}

	time.Sleep(50 * time.Millisecond) // let the subscription settle
	announce(discovery.Announcement{URL: "http://a:1", Instance: "a", Ready: true})
	announce(discovery.Announcement{URL: "http://b:1", Instance: "b", Ready: true})
	announce(discovery.Announcement{Service: "content", URL: "http://c:1", Instance: "c", Ready: true})
	expect("a and b", "http://a:1", "http://b:1", "http://static:1")

	announce(discovery.Announcement{URL: "http://a:1", Instance: "a", Gone: true})
	expect("a's goodbye", "http://b:1", "http://static:1")

	announce(discovery.Announcement{URL: "http://b:1", Instance: "b", Ready: false})
	expect("b not ready", "http://static:1")

	announce(discovery.Announcement{URL: "http://d:1", Instance: "d", Ready: true, IntervalMS: 100})
	expect("d", "http://d:1", "http://static:1")
	expect("d's silence", "http://static:1") // three intervals, then the next sweep
}

// TestAnnouncer: an announcer answers queries at once and says goodbye when stopped.
func TestAnnouncer(t *testing.T) {
	b, err := bus.Open(t.Context(), bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	heard := make(chan discovery.Announcement, 16)
	sub, err := b.Conn().Subscribe(discovery.Subject, func(m *nats.Msg) {
		var a discovery.Announcement
		_ = json.Unmarshal(m.Data, &a)
		heard <- a
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	a := &discovery.Announcer{Conn: b.Conn(), Service: "auth", URL: "http://x:8081", Instance: "x", Interval: time.Hour}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	next := func() discovery.Announcement {
		select {
		case got := <-heard:
			return got
		case <-time.After(5 * time.Second):
			t.Fatal("no announcement")
			return discovery.Announcement{}
		}
	}
	if got := next(); !got.Ready || got.Gone || got.URL != "http://x:8081" || got.IntervalMS != 3_600_000 {
		t.Fatalf("first announcement %+v", got)
	}
	time.Sleep(50 * time.Millisecond)
	if err := b.Conn().Publish(discovery.QuerySubject, nil); err != nil {
		t.Fatal(err)
	}
	if got := next(); !got.Ready {
		t.Fatalf("answer to a query %+v", got)
	}
	cancel()
	<-done
	if got := next(); !got.Gone || got.Ready {
		t.Fatalf("goodbye %+v", got)
	}
}
