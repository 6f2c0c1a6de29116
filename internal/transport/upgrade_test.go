package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// websocketEcho accepts a WebSocket (status set before the hijack, as
// github.com/coder/websocket does) and echoes its messages until it
// closes; stopped gets the read error that ended it.
func (s *service) websocketEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.stopped <- err
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			s.stopped <- err
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			s.stopped <- err
			return
		}
	}
}

// rawUpgrade hijacks first and writes the whole 101 response on the
// connection itself (as gorilla/websocket does), then, from a goroutine
// that outlives the handler, answers one line in upper case.
func (s *service) rawUpgrade(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	go func() {
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n")
		if err := brw.Flush(); err != nil {
			s.stopped <- err
			return
		}
		line, err := brw.ReadString('\n')
		if err == nil {
			_, _ = brw.WriteString(strings.ToUpper(line))
			err = brw.Flush()
		}
		s.stopped <- err
	}()
}

// hijackSilent hijacks and never answers; stopped gets the error that
// ends its read of the connection.
func (s *service) hijackSilent(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	s.started <- struct{}{}
	_, err = conn.Read(make([]byte, 1))
	s.stopped <- err
}

func init() {
	scenarios = append(scenarios, []struct {
		name string
		run  func(t *testing.T, c *http.Client, s *service, inProcess bool)
	}{
		{"websocket", func(t *testing.T, c *http.Client, s *service, _ bool) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, resp, err := websocket.Dial(ctx, "ws://svc/ws", &websocket.DialOptions{HTTPClient: c})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.CloseNow()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			conn.SetReadLimit(1 << 20)
			for _, msg := range []string{"one", strings.Repeat("x", 256<<10), "three"} {
				if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				_, got, err := conn.Read(ctx)
				if err != nil || string(got) != msg {
					t.Fatalf("echo of %d bytes: %d bytes back, %v", len(msg), len(got), err)
				}
			}
			if err := conn.Close(websocket.StatusNormalClosure, "done"); err != nil {
				t.Fatal(err)
			}
			if err := within(t, s.stopped, "handler to see the close"); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("handler ended with %v, want a normal closure", err)
			}
		}},
		{"raw hijack upgrade", func(t *testing.T, c *http.Client, s *service, _ bool) {
			req, _ := http.NewRequest("GET", "http://svc/raw-upgrade", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "shout")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rwc, ok := resp.Body.(io.ReadWriteCloser)
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "shout" || !ok {
				resp.Body.Close()
				t.Fatalf("got %d %v, body writable %v", resp.StatusCode, resp.Header, ok)
			}
			defer rwc.Close()
			if _, err := io.WriteString(rwc, "hello there\n"); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(rwc).ReadString('\n')
			if line != "HELLO THERE\n" || err != nil {
				t.Fatalf("read %q, %v", line, err)
			}
			if err := within(t, s.stopped, "handler goroutine"); err != nil {
				t.Fatal(err)
			}
		}},
		{"upgraded connection outlives the caller's context", func(t *testing.T, c *http.Client, s *service, _ bool) {
			dialCtx, cancel := context.WithCancel(context.Background())
			conn, _, err := websocket.Dial(dialCtx, "ws://svc/ws", &websocket.DialOptions{HTTPClient: c})
			cancel()
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.CloseNow()
			time.Sleep(50 * time.Millisecond) // for the cancellation to reach whatever it reaches
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := conn.Write(ctx, websocket.MessageText, []byte("still there?")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := conn.Read(ctx); err != nil || string(got) != "still there?" {
				t.Fatalf("echo after the dial's context ended: %q, %v", got, err)
			}
			_ = conn.Close(websocket.StatusNormalClosure, "")
			within(t, s.stopped, "handler to end")
		}},
		{"cancel while a hijacking handler has not answered", func(t *testing.T, c *http.Client, s *service, _ bool) {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc/hijack-silent", nil)
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "shout")
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			within(t, s.started, "handler to hijack")
			cancel()
			if err := within(t, errc, "Do to return"); !errors.Is(err, context.Canceled) {
				t.Fatalf("Do err = %v, want context.Canceled", err)
			}
			if err := within(t, s.stopped, "the hijacked connection to close"); err == nil {
				t.Fatal("the handler's read ended without an error")
			}
		}},
	}...)
}
