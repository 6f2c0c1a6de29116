package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testSub is a subscription named name, for the sinks.
func testSub(name string) *sub {
	s := &sub{name: name, nameJSON: appendJSONString(nil, name), removed: new(atomic.Bool)}
	s.self = []*sub{s}
	return s
}

// checkChange decodes the big change of TestSinksKeepNoLargeBuffer and
// checks it (its seq too, when the transport puts it in the JSON).
func checkChange(t *testing.T, data []byte, wantSeq bool) {
	t.Helper()
	var m struct {
		Type          string         `json:"type"`
		Seq           uint64         `json:"seq"`
		Action        string         `json:"action"`
		Record        map[string]any `json:"record"`
		Subscriptions []string       `json:"subscriptions"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("message of %d bytes: %v", len(data), err)
	}
	body, _ := m.Record["body"].(string)
	if m.Action != "created" || len(body) != 1<<20 || len(m.Subscriptions) != 2 || m.Subscriptions[1] != "b" || (wantSeq && m.Seq != 9) {
		t.Fatalf("message: seq %d, body %d bytes, subscriptions %v", m.Seq, len(body), m.Subscriptions)
	}
}

// TestSinksKeepNoLargeBuffer writes a 1 MiB change on each transport: it
// arrives whole, and the connection keeps no buffer of its size.
func TestSinksKeepNoLargeBuffer(t *testing.T) {
	h := NewHub(Options{Logger: slog.New(slog.DiscardHandler)})
	e := h.newEnvelope(Change{Seq: 9, Action: "created", Collection: "posts", ID: "p",
		Record: map[string]any{"body": strings.Repeat("x", 1<<20)}})
	subs := []*sub{testSub("a"), testSub("b")}

	rec := httptest.NewRecorder()
	sse := &sseSink{w: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	if err := sse.change(e, subs); err != nil {
		t.Fatal(err)
	}
	out, ok := strings.CutPrefix(rec.Body.String(), "id: 9\nevent: change\ndata: ")
	if !ok || !strings.HasSuffix(out, "}\n\n") || strings.Count(out, "\n") != 2 {
		t.Fatalf("SSE event starts %.60q", rec.Body.String())
	}
	checkChange(t, []byte(out), false)
	if cap(sse.buf) > maxKeptBuffer {
		t.Fatalf("the SSE sink keeps a buffer of %d bytes", cap(sse.buf))
	}

	kept := make(chan int, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ws := &wsSink{conn: conn, timeout: 5 * time.Second}
		for _, e := range []*envelope{e, h.newEnvelope(Change{Seq: 10, Record: map[string]any{}})} {
			if err := ws.change(e, subs); err != nil {
				t.Error(err)
			}
			kept <- cap(ws.buf)
		}
		_, _, _ = conn.Read(r.Context()) // until the client closes
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(4 << 20)
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, data, true)
	if _, small, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(small), `{"type":"change","seq":10,`) {
		t.Fatalf("small change %s: %v", small, err)
	}
	for range 2 {
		if n := <-kept; n > maxKeptBuffer {
			t.Fatalf("the WebSocket sink keeps a buffer of %d bytes", n)
		}
	}
}
