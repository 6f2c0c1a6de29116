package realtime_test

// A WebSocket client for the tests.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsConn is a real WebSocket client.
type wsConn struct {
	c    *websocket.Conn
	msgs chan []byte
	err  chan error // the read error that ended it
}

// dialWS connects to the hub over WebSocket with the extra query and
// headers.
func dialWS(t testing.TB, srv *httptest.Server, query string, header http.Header) (*wsConn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/realtime"
	if query != "" {
		u += "?" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(8 << 20)
	w := &wsConn{c: c, msgs: make(chan []byte, 1024), err: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.err <- err
				close(w.msgs)
				return
			}
			w.msgs <- b
		}
	}()
	t.Cleanup(func() { _ = c.CloseNow() })
	return w, resp, nil
}

// openWS connects as user (""": anonymous) and reads the connected message.
func openWS(t testing.TB, srv *httptest.Server, user, query string) (*wsConn, map[string]any) {
	t.Helper()
	h := http.Header{}
	if user != "" {
		h.Set("X-User", user)
	}
	w, _, err := dialWS(t, srv, query, h)
	if err != nil {
		t.Fatal(err)
	}
	m := w.next(t)
	if m["type"] != "connected" || m["clientId"] == "" {
		t.Fatalf("first message = %v, want connected", m)
	}
	return w, m
}

func (w *wsConn) send(t testing.TB, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message as a map.
func (w *wsConn) next(t testing.TB) map[string]any {
	t.Helper()
	select {
	case b, ok := <-w.msgs:
		if !ok {
			t.Fatalf("the connection ended: %v", <-w.err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %q: %v", b, err)
		}
		return m
	case <-time.After(wait):
		t.Fatal("no message within the wait")
	}
	return nil
}

// nextChange reads the next message and requires a change.
func (w *wsConn) nextChange(t testing.TB) changeData {
	t.Helper()
	m := w.next(t)
	b, _ := json.Marshal(m)
	var d changeData
	_ = json.Unmarshal(b, &d)
	if d.Type != "change" || d.Seq != seqOf(d) {
		t.Fatalf("message = %s, want a change with seq matching its record", b)
	}
	return d
}

// closed waits for the connection to end and returns its close status.
func (w *wsConn) closed(t testing.TB) (websocket.StatusCode, []map[string]any) {
	t.Helper()
	var rest []map[string]any
	timeout := time.After(wait)
	for {
		select {
		case b, ok := <-w.msgs:
			if !ok {
				return websocket.CloseStatus(<-w.err), rest
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			rest = append(rest, m)
		case <-timeout:
			t.Fatal("the connection did not end")
		}
	}
}

// quiet fails t if a message arrives within d.
func (w *wsConn) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case b := <-w.msgs:
		t.Fatalf("unexpected message %s", b)
	case <-time.After(d):
	}
}
