package realtime_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/testenv"
)

func TestFailingMatcherDoesNotStopOthers(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	panics, _ := connectSSE(t, srv, sseRequest{subs: `[{"topic":"posts/*","filter":"panic"}]`})
	failing, _ := connectSSE(t, srv, sseRequest{subs: `[{"topic":"posts/*","filter":"error"}]`})
	mixed, _ := connectSSE(t, srv, sseRequest{
		subs: `[{"id":"bad","topic":"posts/*","filter":"panic"},{"id":"ok","topic":"posts/*"}]`})
	healthy, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	ws, _ := openWS(t, srv, "", "")
	ws.send(t, map[string]string{"type": "subscribe", "id": "boom", "topic": "posts/*", "filter": "panic"})
	ws.send(t, map[string]string{"type": "subscribe", "id": "fine", "topic": "posts/*"})
	ws.next(t)
	ws.next(t)

	before := testenv.Metric(t, "bam_realtime_matcher_errors_total")
	for i := uint64(1); i <= 3; i++ {
		hub.Publish(seqChange(i, "posts", "p"+strconv.FormatUint(i, 10), "public", true))
	}
	for i := uint64(1); i <= 3; i++ {
		if d := healthy.nextChange(t); d.Seq != i {
			t.Fatalf("healthy got %d, want %d", d.Seq, i)
		}
		if d := mixed.nextChange(t); d.Seq != i || !slices.Equal(d.Subscriptions, []string{"ok"}) {
			t.Fatalf("mixed got %+v", d)
		}
		if d := ws.nextChange(t); d.Seq != i || !slices.Equal(d.Subscriptions, []string{"fine"}) {
			t.Fatalf("ws got %+v", d)
		}
	}
	panics.quiet(t, settle)
	failing.quiet(t, 0)
	if got := testenv.Metric(t, "bam_realtime_matcher_errors_total") - before; got != 12 {
		t.Fatalf("matcher errors counted = %v, want 12 (4 failing subscriptions × 3 changes)", got)
	}
}

// rawSSE opens an SSE request on a bare TCP connection that nobody reads
// until read is called.
func rawSSE(t *testing.T, addr, query string) (conn net.Conn, read func() *sseStream) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_, _ = fmt.Fprintf(conn, "GET /v1/realtime?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", query, addr)
	return conn, func() *sseStream {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		return newSSEStream(resp, func() { _ = conn.Close() })
	}
}

func TestOverflowClosesTheSlowClientOnly(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{SendQueue: 4})
	fast, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	ws, _ := openWS(t, srv, "", `subscribe=posts/*`)
	_, readSlow := rawSSE(t, srv.Listener.Addr().String(), "subscribe=posts/*")
	time.Sleep(settle) // the slow client is registered

	before := testenv.Metric(t, "bam_realtime_dropped_total", "reason", "overflow")
	big := strings.Repeat("x", 256<<10)
	var published uint64
	for published < 400 && testenv.Metric(t, "bam_realtime_dropped_total", "reason", "overflow") == before {
		published++
		start := time.Now()
		hub.Publish(seqChange(published, "posts", "p", "public", true, "body", big))
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Publish blocked for %v", took)
		}
		if d := fast.nextChange(t); d.Seq != published {
			t.Fatalf("fast client got %d, want %d", d.Seq, published)
		}
		if d := ws.nextChange(t); d.Seq != published {
			t.Fatalf("ws client got %d, want %d", d.Seq, published)
		}
	}
	if testenv.Metric(t, "bam_realtime_dropped_total", "reason", "overflow") == before {
		t.Fatalf("no overflow after %d changes of 256 KiB", published)
	}
	t.Logf("the slow client overflowed after %d changes of 256 KiB", published)
	// The fast clients keep going.
	published++
	hub.Publish(seqChange(published, "posts", "p", "public", true))
	if d := fast.nextChange(t); d.Seq != published {
		t.Fatalf("fast client got %d after the overflow", d.Seq)
	}

	// The slow client gets what the sockets held, a final overflow, the end.
	slow := readSlow()
	var got []uint64
	rest := slow.expectEnd(t)
	if len(rest) < 2 || rest[0].Event != "connect" || rest[len(rest)-1].Event != "overflow" {
		t.Fatalf("slow stream = %d events, want connect … overflow", len(rest))
	}
	for _, ev := range rest[1 : len(rest)-1] {
		n, _ := strconv.ParseUint(ev.ID, 10, 64)
		got = append(got, n)
	}
	for i, n := range got {
		if n != uint64(i+1) {
			t.Fatalf("slow client got %v: want a gap-free prefix", got)
		}
	}
	// Reconnecting with its last id loses nothing.
	last := uint64(len(got))
	again := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: strconv.FormatUint(last, 10)})
	again.next(t)
	for want := last + 1; want <= published; want++ {
		if d := again.nextChange(t); d.Seq != want {
			t.Fatalf("replay got %d, want %d", d.Seq, want)
		}
	}
}

func TestLongSSEConnectionDoesNotLeak(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{Heartbeat: 20 * time.Millisecond})
	srv.Client().Transport.(*http.Transport).CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	conns := testenv.Metric(t, "bam_realtime_connections", "transport", "sse")

	s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	go func() {
		for i := uint64(1); i <= 150; i++ {
			hub.Publish(seqChange(i, "posts", "p", "public", true))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	pings, want := 0, uint64(1)
	timeout := time.After(20 * time.Second)
	for want <= 150 {
		select {
		case ev := <-s.events:
			switch {
			case ev.Comment == "ping":
				pings++
			case ev.Event == "change":
				if ev.ID != strconv.FormatUint(want, 10) {
					t.Fatalf("got id %s, want %d", ev.ID, want)
				}
				want++
			}
		case <-timeout:
			t.Fatalf("got %d changes", want-1)
		}
	}
	if pings == 0 {
		t.Fatal("no heartbeat over the connection's life")
	}
	if got := testenv.Metric(t, "bam_realtime_connections", "transport", "sse"); got != conns+1 {
		t.Fatalf("connections gauge = %v, want %v", got, conns+1)
	}
	s.close()
	srv.Client().Transport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline || testenv.Metric(t, "bam_realtime_connections", "transport", "sse") != conns {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines = %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
