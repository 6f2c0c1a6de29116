package realtime_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/testenv"
)

// errorCode returns the code of an error message for id, failing t for
// anything else.
func errorCode(t *testing.T, m map[string]any, id string) string {
	t.Helper()
	e, _ := m["error"].(map[string]any)
	if m["type"] != "error" || e == nil || (m["id"] != nil && m["id"] != id) || (m["id"] == nil && id != "") {
		t.Fatalf("message = %v, want an error for %q", m, id)
	}
	code, _ := e["code"].(string)
	if e["detail"] == "" || e["status"] != float64(400) {
		t.Fatalf("error = %v, want status 400 with a detail", e)
	}
	return code
}

func TestWebSocketSubscribeAndReceive(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{MaxSubscriptions: 3})
	alice, _ := openWS(t, srv, "alice", "")
	anon, _ := openWS(t, srv, "", "")

	alice.send(t, map[string]string{"type": "subscribe", "id": "s1", "topic": "posts/*"})
	if m := alice.next(t); m["type"] != "ack" || m["id"] != "s1" {
		t.Fatalf("message = %v, want ack s1", m)
	}
	alice.send(t, map[string]string{"type": "subscribe", "id": "s2", "topic": "posts/p9"})
	alice.next(t)
	alice.send(t, map[string]string{"type": "subscribe", "id": "bad", "topic": "nope/*"})
	if code := errorCode(t, alice.next(t), "bad"); code != "content.not_found" {
		t.Fatalf("code = %s", code)
	}
	alice.send(t, map[string]string{"type": "subscribe", "id": "f", "topic": "posts/*", "filter": "views >"})
	if code := errorCode(t, alice.next(t), "f"); code != "content.invalid_filter" {
		t.Fatalf("code = %s", code)
	}
	anon.send(t, map[string]string{"type": "subscribe", "id": "n", "topic": "notes/*"})
	if code := errorCode(t, anon.next(t), "n"); code != "content.forbidden" {
		t.Fatalf("code = %s", code)
	}
	anon.send(t, map[string]string{"type": "subscribe", "id": "n", "topic": "posts/*", "filter": "views > 10"})
	anon.next(t)

	hub.Publish(seqChange(1, "posts", "p9", "public", true, "views", 20))
	hub.Publish(seqChange(2, "posts", "p2", "owner", "bob"))
	hub.Publish(seqChange(3, "posts", "p3", "owner", "alice", "views", 50))
	d := alice.nextChange(t)
	if d.Seq != 1 || d.Action != "created" || d.Collection != "posts" || d.ID != "p9" ||
		!slices.Equal(d.Subscriptions, []string{"s1", "s2"}) {
		t.Fatalf("change = %+v", d)
	}
	if d := alice.nextChange(t); d.Seq != 3 || !slices.Equal(d.Subscriptions, []string{"s1"}) {
		t.Fatalf("change = %+v", d)
	}
	if d := anon.nextChange(t); d.Seq != 1 || !slices.Equal(d.Subscriptions, []string{"n"}) {
		t.Fatalf("anonymous change = %+v", d)
	}

	alice.send(t, map[string]string{"type": "unsubscribe", "id": "s1"})
	if m := alice.next(t); m["type"] != "ack" || m["id"] != "s1" {
		t.Fatalf("message = %v", m)
	}
	hub.Publish(seqChange(4, "posts", "p4", "public", true))
	hub.Publish(seqChange(5, "posts", "p9", "public", true))
	if d := alice.nextChange(t); d.Seq != 5 || !slices.Equal(d.Subscriptions, []string{"s2"}) {
		t.Fatalf("change = %+v", d)
	}

	// Same id: the filter is replaced, not added.
	alice.send(t, map[string]string{"type": "subscribe", "id": "s2", "topic": "posts/*", "filter": "views > 100"})
	alice.next(t)
	hub.Publish(seqChange(6, "posts", "p9", "public", true, "views", 1))
	hub.Publish(seqChange(7, "posts", "p7", "public", true, "views", 101))
	if d := alice.nextChange(t); d.Seq != 7 || !slices.Equal(d.Subscriptions, []string{"s2"}) {
		t.Fatalf("change = %+v", d)
	}

	alice.send(t, map[string]string{"type": "ping"})
	if m := alice.next(t); m["type"] != "pong" {
		t.Fatalf("message = %v, want pong", m)
	}
	for _, msg := range []string{`nope`, `{"type":"subscribe","id":"x","topic":"posts/*","extra":1}`, `{} {}`} {
		if err := alice.c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if code := errorCode(t, alice.next(t), ""); code != realtime.CodeInvalidMessage {
			t.Fatalf("%s: code = %s", msg, code)
		}
	}
	for _, m := range []map[string]string{{"type": "dance", "id": "d"}, {"type": "subscribe", "topic": "posts/*"}, {"type": "unsubscribe"}} {
		alice.send(t, m)
		if code := errorCode(t, alice.next(t), m["id"]); code != realtime.CodeInvalidMessage {
			t.Fatalf("%v: code = %s", m, code)
		}
	}
	for _, id := range []string{"a", "b"} {
		alice.send(t, map[string]string{"type": "subscribe", "id": id, "topic": "posts/*"})
		alice.next(t)
	}
	alice.send(t, map[string]string{"type": "subscribe", "id": "c", "topic": "posts/*"})
	if code := errorCode(t, alice.next(t), "c"); code != realtime.CodeTooManySubscriptions {
		t.Fatalf("code = %s", code)
	}
	alice.quiet(t, settle)
}

func TestWebSocketResumeWithQuerySubscriptions(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	for i := uint64(1); i <= 4; i++ {
		hub.Publish(seqChange(i, "posts", "p", "public", i%2 == 0))
	}
	q := url.Values{"subscriptions": {`[{"id":"a","topic":"posts/*"}]`}, "lastEventId": {"1"}}
	ws, hello := openWS(t, srv, "", q.Encode())
	if hello["seq"] != float64(1) {
		t.Fatalf("connected = %v, want seq 1", hello)
	}
	for _, want := range []uint64{2, 4} {
		if d := ws.nextChange(t); d.Seq != want || !slices.Equal(d.Subscriptions, []string{"a"}) {
			t.Fatalf("change = %+v, want %d", d, want)
		}
	}
	ws.quiet(t, settle)

	q.Set("lastEventId", "99")
	ws, hello = openWS(t, srv, "", q.Encode())
	if m := ws.next(t); hello["seq"] != float64(4) || m["type"] != "reset" || m["reason"] != "ahead" {
		t.Fatalf("connected %v then %v, want a reset", hello, m)
	}
}

func TestWebSocketOrigins(t *testing.T) {
	_, srv := newServer(t, realtime.Options{AllowedOrigins: []string{"app.example.com"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, {srv.URL, true}, {"https://app.example.com", true},
		{"https://evil.example.com", false}, {"null", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		_, resp, err := dialWS(t, srv, "", h)
		if tc.ok != (err == nil) {
			t.Fatalf("origin %q: err = %v", tc.origin, err)
		}
		if !tc.ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Fatalf("origin %q: response %v, want 403", tc.origin, resp)
		}
	}
}

func TestWebSocketLimitsMessageSize(t *testing.T) {
	_, srv := newServer(t, realtime.Options{MaxMessageBytes: 1024})
	ws, _ := openWS(t, srv, "", "")
	ws.send(t, map[string]string{"type": "subscribe", "id": strings.Repeat("x", 900), "topic": "posts/*"})
	if code := errorCode(t, ws.next(t), strings.Repeat("x", 900)); code != realtime.CodeInvalidSubscription {
		t.Fatalf("code = %s (ids are at most 256 bytes)", code)
	}
	ws.send(t, map[string]string{"type": "subscribe", "id": "big", "topic": "posts/*", "filter": strings.Repeat("x", 2048)})
	if code, _ := ws.closed(t); code != websocket.StatusMessageTooBig {
		t.Fatalf("close status = %d, want 1009", code)
	}
}

func TestWebSocketExpiry(t *testing.T) {
	_, srv := newServer(t, realtime.Options{})
	h := http.Header{"X-User": {"alice"}, "X-Expires": {time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano)}}
	ws, _, err := dialWS(t, srv, "", h)
	if err != nil {
		t.Fatal(err)
	}
	code, msgs := ws.closed(t)
	if code != websocket.StatusPolicyViolation || len(msgs) != 2 || msgs[0]["type"] != "connected" || msgs[1]["type"] != "expired" {
		t.Fatalf("close %d after %v, want connected, expired, 1008", code, msgs)
	}
}

func TestWebSocketPingsAndConnectionsGauge(t *testing.T) {
	_, srv := newServer(t, realtime.Options{Heartbeat: 20 * time.Millisecond})
	before := testenv.Metric(t, "bam_realtime_connections", "transport", "ws")
	ws, _ := openWS(t, srv, "", "")
	if got := testenv.Metric(t, "bam_realtime_connections", "transport", "ws"); got != before+1 {
		t.Fatalf("gauge = %v, want %v", got, before+1)
	}
	ws.quiet(t, 200*time.Millisecond) // pings are answered by the client library, unseen, and must not end the connection
	ws.send(t, map[string]string{"type": "ping"})
	if m := ws.next(t); m["type"] != "pong" {
		t.Fatalf("message = %v", m)
	}
	_ = ws.c.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(wait)
	for testenv.Metric(t, "bam_realtime_connections", "transport", "ws") != before {
		if time.Now().After(deadline) {
			t.Fatal("the gauge did not come back down")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebSocketAckMeansSubscribed checks that a change published after
// the client read a subscription's ack reaches it: a ping sent after the
// change is answered after it, so a pong first means the change was
// missed.
func TestWebSocketAckMeansSubscribed(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	ws, _ := openWS(t, srv, "", "")
	for i := uint64(1); i <= 2000; i++ {
		id := "p" + strconv.FormatUint(i, 10)
		ws.send(t, map[string]string{"type": "subscribe", "id": "s", "topic": "posts/" + id})
		if m := ws.next(t); m["type"] != "ack" {
			t.Fatalf("message = %v, want ack", m)
		}
		hub.Publish(seqChange(i, "posts", id, "public", true))
		ws.send(t, map[string]string{"type": "ping"})
		if m := ws.next(t); m["type"] != "change" {
			t.Fatalf("subscription %d: message = %v, want the change published after its ack", i, m)
		}
		if m := ws.next(t); m["type"] != "pong" {
			t.Fatalf("message = %v, want pong", m)
		}
	}
}
