package realtime_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/realtime"
)

// gatedAuth is testAuth plus the filter "gate": its matcher says when it
// starts (entered) and blocks until release is closed, like an expensive
// rule.
type gatedAuth struct {
	entered chan struct{}
	release chan struct{}
}

func (a gatedAuth) Subscribe(ctx context.Context, p *authn.Principal, s realtime.Subscription) (realtime.Matcher, error) {
	if s.Filter != "gate" {
		return testAuth{}.Subscribe(ctx, p, s)
	}
	return func(*realtime.Change) (bool, error) {
		select {
		case a.entered <- struct{}{}:
		default:
		}
		<-a.release
		return true, nil
	}, nil
}

func TestSlowMatcherDoesNotBlockConnections(t *testing.T) {
	auth := gatedAuth{entered: make(chan struct{}, 1), release: make(chan struct{})}
	hub, srv := newServer(t, realtime.Options{Authorizer: auth})
	var once sync.Once
	release := func() { once.Do(func() { close(auth.release) }) }
	t.Cleanup(release) // before the hub closes
	slow, _ := connectSSE(t, srv, sseRequest{subs: `[{"topic":"posts/*","filter":"gate"}]`})
	ws, _ := openWS(t, srv, "", "")

	published := make(chan struct{})
	go func() {
		defer close(published)
		hub.Publish(seqChange(1, "posts", "p1", "public", true))
	}()
	select {
	case <-auth.entered:
	case <-time.After(wait):
		t.Fatal("the matcher did not run")
	}

	// While the matcher runs: a new connection opens, a subscription is
	// acknowledged.
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/realtime?subscribe=posts/*", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("a new connection waited for the matcher: %v after %v", err, time.Since(began))
	}
	fresh := newSSEStream(resp, cancel)
	t.Cleanup(fresh.close)
	if ev := fresh.next(t); ev.Event != "connect" {
		t.Fatalf("first event = %+v", ev)
	}
	ws.send(t, map[string]string{"type": "subscribe", "id": "s1", "topic": "posts/*"})
	select {
	case b := <-ws.msgs:
		if string(b) != `{"type":"ack","id":"s1"}` {
			t.Fatalf("message = %s, want the ack", b)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a subscribe waited for the matcher")
	}

	release()
	<-published
	if d := slow.nextChange(t); d.Seq != 1 {
		t.Fatalf("slow got %+v", d)
	}
	// Both came after the change was published: they start after it.
	fresh.quiet(t, settle)
	hub.Publish(seqChange(2, "posts", "p2", "public", true))
	if d := fresh.nextChange(t); d.Seq != 2 {
		t.Fatalf("fresh got %+v", d)
	}
	if d := ws.nextChange(t); d.Seq != 2 {
		t.Fatalf("ws got %+v", d)
	}
}

// TestResumeWhilePublishingDeliversEachChangeOnce connects resuming
// clients while changes are being published: each gets every change after
// its id exactly once, in order, whether it came from the replay or live.
func TestResumeWhilePublishingDeliversEachChangeOnce(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	hub.SetPosition(0)
	const total = 600
	var last atomic.Uint64
	go func() {
		for i := uint64(1); i <= total; i++ {
			hub.Publish(seqChange(i, "posts", "p", "public", true))
			last.Store(i)
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var streams []*sseStream
	var from []uint64
	for len(streams) < 12 {
		n := last.Load()
		s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: strconv.FormatUint(n/2, 10)})
		streams, from = append(streams, s), append(from, n/2)
		time.Sleep(2 * time.Millisecond)
	}
	for i, s := range streams {
		if ev := s.next(t); ev.Event != "connect" {
			t.Fatalf("first event = %+v", ev)
		}
		var got []uint64
		for want := from[i] + 1; want <= total; want++ {
			d := s.nextChange(t)
			got = append(got, d.Seq)
			if d.Seq != want {
				t.Fatalf("stream %d (from %d) got %v…, want %d next", i, from[i], got[max(0, len(got)-5):], want)
			}
		}
		s.quiet(t, 0)
	}
}

// TestUpdateWithTheSameSubscriptionsLosesNothing replaces an SSE
// connection's subscriptions with the same ones again and again while
// changes are published: none is lost or repeated.
func TestUpdateWithTheSameSubscriptionsLosesNothing(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	s, id := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	const total = 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= total; i++ {
			hub.Publish(seqChange(i, "posts", "p", "public", true))
			if i%20 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for updates := 0; ; updates++ {
		select {
		case <-done:
		default:
			if resp := post(t, srv, "", updateBody(id, `[{"topic":"posts/*"}]`)); resp.StatusCode != http.StatusOK {
				t.Fatalf("update = %d", resp.StatusCode)
			}
			continue
		}
		t.Logf("%d updates while publishing", updates)
		break
	}
	for want := uint64(1); want <= total; want++ {
		if d := s.nextChange(t); d.Seq != want {
			t.Fatalf("got %d, want %d", d.Seq, want)
		}
	}
	s.quiet(t, 0)
}
