package realtime_test

// A Server-Sent Events client for the tests, parsing as EventSource does.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one parsed Server-Sent Event (or comment).
type sseEvent struct {
	ID, Event, Data string
	Comment         string
}

// sseStream reads events from a real SSE response.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{} // closed at the end of the stream
	cancel context.CancelFunc
}

// sseRequest describes an SSE connection.
type sseRequest struct {
	user, expires string
	session       string
	header        http.Header // more request headers
	subscribe     []string
	subs          string // the subscriptions query (JSON)
	lastEventID   string
}

// openSSE connects and returns the stream; it fails t unless the answer is
// 200 text/event-stream.
func openSSE(t testing.TB, srv *httptest.Server, sr sseRequest) *sseStream {
	t.Helper()
	s, resp := dialSSE(t, srv, sr)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET realtime = %d %s", resp.StatusCode, body)
	}
	return s
}

// dialSSE connects; s is nil unless the answer is 200.
func dialSSE(t testing.TB, srv *httptest.Server, sr sseRequest) (*sseStream, *http.Response) {
	t.Helper()
	q := url.Values{}
	for _, topic := range sr.subscribe {
		q.Add("subscribe", topic)
	}
	if sr.subs != "" {
		q.Set("subscriptions", sr.subs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/realtime?"+q.Encode(), nil)
	req.Header.Set("Accept", "text/event-stream")
	if sr.user != "" {
		req.Header.Set("X-User", sr.user)
	}
	if sr.expires != "" {
		req.Header.Set("X-Expires", sr.expires)
	}
	if sr.session != "" {
		req.Header.Set("X-Session", sr.session)
	}
	for k, v := range sr.header {
		req.Header[k] = v
	}
	if sr.lastEventID != "" {
		req.Header.Set("Last-Event-ID", sr.lastEventID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Cleanup(func() { _ = resp.Body.Close() })
		return nil, resp
	}
	s := newSSEStream(resp, cancel)
	t.Cleanup(s.close)
	return s, resp
}

// newSSEStream parses resp's body as it arrives; cancel ends the request.
func newSSEStream(resp *http.Response, cancel context.CancelFunc) *sseStream {
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), done: make(chan struct{}), cancel: cancel}
	go s.read()
	return s
}

// read parses the stream as the EventSource algorithm does.
func (s *sseStream) read() {
	defer close(s.done)
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				s.events <- ev
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{Comment: strings.TrimSpace(line[1:])}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				data = append(data, value)
			}
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
	<-s.done
}

// next returns the next event that is not a comment.
func (s *sseStream) next(t testing.TB) sseEvent {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.Comment != "" {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event within the wait")
		}
	}
}

// expectEnd reads the remaining events until the stream ends, and returns
// them.
func (s *sseStream) expectEnd(t testing.TB) []sseEvent {
	t.Helper()
	var rest []sseEvent
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return rest
			}
			if ev.Comment == "" {
				rest = append(rest, ev)
			}
		case <-timeout:
			t.Fatalf("the stream did not end; got %v", rest)
		}
	}
}

// quiet fails t if an event other than a comment arrives within d.
func (s *sseStream) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if ok && ev.Comment != "" {
				continue
			}
			t.Fatalf("unexpected event %+v (open=%v)", ev, ok)
		case <-timeout:
			return
		}
	}
}

// connectSSE opens a stream and reads its connect event; it returns the
// stream and the client id.
func connectSSE(t testing.TB, srv *httptest.Server, sr sseRequest) (*sseStream, string) {
	t.Helper()
	s := openSSE(t, srv, sr)
	ev := s.next(t)
	if ev.Event != "connect" {
		t.Fatalf("first event = %+v, want connect", ev)
	}
	var d struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil || len(d.ClientID) < 20 {
		t.Fatalf("connect data %q: %v", ev.Data, err)
	}
	return s, d.ClientID
}

// nextChange reads the next event and requires a change.
func (s *sseStream) nextChange(t testing.TB) changeData {
	t.Helper()
	ev := s.next(t)
	if ev.Event != "change" {
		t.Fatalf("event = %+v, want a change", ev)
	}
	var d changeData
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("change data %q: %v", ev.Data, err)
	}
	if ev.ID != strconv.FormatUint(seqOf(d), 10) {
		t.Fatalf("event id %q does not match the record's seq field %v", ev.ID, d.Record["seq"])
	}
	d.Seq, _ = strconv.ParseUint(ev.ID, 10, 64)
	return d
}
