package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/httpx"
)

func TestSSEDeliversMatchingChanges(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	alice := openSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"}})
	if h := alice.resp.Header; h.Get("Content-Type") != "text/event-stream" ||
		h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("headers = %v", h)
	}
	if ev := alice.next(t); ev.Event != "connect" || ev.ID != "" {
		t.Fatalf("connect = %+v (no id: the hub has no position yet)", ev)
	}
	bob, _ := connectSSE(t, srv, sseRequest{user: "bob",
		subs: `[{"topic":"posts/*","filter":"views > 10"},{"id":"mine","topic":"notes/*"}]`})
	anon, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/p2"}})
	carol, _ := connectSSE(t, srv, sseRequest{user: "carol",
		subs: `[{"topic":"posts/*"},{"id":"hot","topic":"posts/*","filter":"views > 10"}]`})

	hub.Publish(seqChange(1, "posts", "p1", "public", true, "views", 5, "owner", "carol"))
	hub.Publish(seqChange(2, "posts", "p2", "public", false, "views", 50, "owner", "alice"))
	hub.Publish(seqChange(3, "posts", "p2", "public", true, "views", 20, "owner", "alice"))
	hub.Publish(seqChange(4, "notes", "n1", "owner", "bob"))
	hub.Publish(seqChange(5, "notes", "n2", "owner", "alice"))
	hub.Publish(seqChange(6, "posts", "p3", "public", true, "views", 11, "owner", "dave"))

	want := map[*sseStream][]uint64{alice: {1, 2, 3, 6}, bob: {3, 4, 6}, anon: {3}, carol: {1, 3, 6}}
	for s, seqsWant := range want {
		var got []changeData
		for range seqsWant {
			got = append(got, s.nextChange(t))
		}
		if !slices.Equal(seqs(got), seqsWant) {
			t.Errorf("got %v, want %v", seqs(got), seqsWant)
		}
		s.quiet(t, settle)
	}
}

func TestSSEChangeEventShape(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	carol, _ := connectSSE(t, srv, sseRequest{user: "carol",
		subs: `[{"topic":"posts/*"},{"id":"hot","topic":"posts/*","filter":"views > 10"},{"topic":"posts/p7"}]`})
	hub.Publish(seqChange(7, "posts", "p7", "public", true, "views", 20, "title", "a\nb \"q\""))
	d := carol.nextChange(t)
	if d.Seq != 7 || d.Action != "created" || d.Collection != "posts" || d.ID != "p7" ||
		d.Record["title"] != "a\nb \"q\"" || d.Record["views"] != float64(20) {
		t.Fatalf("change = %+v", d)
	}
	if !slices.Equal(d.Subscriptions, []string{"posts/*", "hot", "posts/p7"}) {
		t.Fatalf("subscriptions = %v: one event listing every match, in order", d.Subscriptions)
	}
	carol.quiet(t, settle)
}

// problemOf decodes a problem+json answer.
func problemOf(t *testing.T, resp *http.Response) httpx.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != httpx.ContentTypeProblem {
		t.Fatalf("Content-Type = %q", ct)
	}
	var p httpx.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSERefusesBadSubscriptions(t *testing.T) {
	_, srv := newServer(t, realtime.Options{MaxSubscriptions: 3})
	cases := []struct {
		name        string
		req         sseRequest
		code, field string
	}{
		{"unknown collection", sseRequest{subscribe: []string{"posts/*"}, subs: `[{"topic":"nope/*"}]`},
			"content.not_found", "subscriptions.1"},
		{"not allowed", sseRequest{subs: `[{"topic":"notes/*"}]`}, "content.forbidden", "subscriptions.0"},
		{"bad filter", sseRequest{subs: `[{"topic":"posts/*"},{"topic":"posts/*","id":"x","filter":"views >"}]`},
			"content.invalid_filter", "subscriptions.1"},
		{"bad topic", sseRequest{subscribe: []string{"posts"}}, realtime.CodeInvalidSubscription, "subscriptions.0"},
		{"nested topic", sseRequest{subscribe: []string{"posts/a/b"}}, realtime.CodeInvalidSubscription, "subscriptions.0"},
		{"same name twice", sseRequest{subscribe: []string{"posts/*", "posts/*"}},
			realtime.CodeInvalidSubscription, "subscriptions.1"},
		{"not JSON", sseRequest{subs: `[{"topic":`}, realtime.CodeInvalidSubscription, "subscriptions"},
		{"unknown member", sseRequest{subs: `[{"topik":"posts/*"}]`}, realtime.CodeInvalidSubscription, "subscriptions"},
		{"too many", sseRequest{subscribe: []string{"posts/1", "posts/2", "posts/3", "posts/4"}},
			realtime.CodeTooManySubscriptions, "subscriptions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, resp := dialSSE(t, srv, tc.req)
			if s != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			p := problemOf(t, resp)
			if p.Code != tc.code || len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("problem = %+v, want code %s on field %s", p, tc.code, tc.field)
			}
		})
	}
}

func TestSSEMethodNotAllowed(t *testing.T) {
	_, srv := newServer(t, realtime.Options{})
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/realtime", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("status = %d, Allow = %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// post sends POST /v1/realtime as user ("": anonymous).
func post(t *testing.T, srv *httptest.Server, user, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/realtime", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func updateBody(clientID, subs string) string {
	return `{"clientId":"` + clientID + `","subscriptions":` + subs + `}`
}

func TestSSEUpdateSubscriptions(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	alice, id := connectSSE(t, srv, sseRequest{user: "alice"})
	_, wsMsg := openWS(t, srv, "alice", "")
	wsID := wsMsg["clientId"].(string)
	anon, anonID := connectSSE(t, srv, sseRequest{})

	// Nobody but alice can touch her connection, and nothing tells them
	// whether it exists.
	for _, tc := range []struct{ name, user, id string }{
		{"other user", "bob", id}, {"anonymous", "", id}, {"unknown id", "alice", "nope"},
		{"websocket id", "alice", wsID}, {"user on anonymous connection", "bob", anonID},
	} {
		resp := post(t, srv, tc.user, updateBody(tc.id, `[{"topic":"posts/*"}]`))
		if resp.StatusCode != http.StatusNotFound || problemOf(t, resp).Code != realtime.CodeNotFound {
			t.Fatalf("%s: status = %d, want 404", tc.name, resp.StatusCode)
		}
	}
	hub.Publish(seqChange(1, "posts", "p1", "public", true, "views", 50))
	alice.quiet(t, settle)

	resp := post(t, srv, "alice", updateBody(id, `[{"topic":"posts/*","filter":"views > 10"}]`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	var ok struct {
		ClientID      string              `json:"clientId"`
		Subscriptions []map[string]string `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil || ok.ClientID != id ||
		len(ok.Subscriptions) != 1 || ok.Subscriptions[0]["filter"] != "views > 10" {
		t.Fatalf("answer = %+v, %v", ok, err)
	}
	hub.Publish(seqChange(2, "posts", "p2", "public", true, "views", 5))
	hub.Publish(seqChange(3, "posts", "p3", "public", true, "views", 20))
	if d := alice.nextChange(t); d.Seq != 3 || !slices.Equal(d.Subscriptions, []string{"posts/*"}) {
		t.Fatalf("change = %+v", d)
	}

	// A failing subscription changes nothing and is named.
	resp = post(t, srv, "alice", updateBody(id, `[{"topic":"posts/*"},{"topic":"nope/*"}]`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if p := problemOf(t, resp); len(p.Errors) == 0 || p.Errors[0].Field != "subscriptions.1" {
		t.Fatalf("problem = %+v", p)
	}
	hub.Publish(seqChange(4, "posts", "p4", "public", true, "views", 5))
	hub.Publish(seqChange(5, "posts", "p5", "public", true, "views", 30))
	if d := alice.nextChange(t); d.Seq != 5 {
		t.Fatalf("change = %+v: the old filter should still hold", d)
	}

	for _, body := range []string{`{"clientId":"` + id + `"}`, `{"clientId":"` + id + `","subscriptions":[],"x":1}`, `nope`} {
		if resp := post(t, srv, "alice", body); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status = %d, want 400", body, resp.StatusCode)
		}
	}
	if resp := post(t, srv, "alice", updateBody(id, `[]`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	// Anonymous callers may change anonymous connections (the id is the secret).
	if resp := post(t, srv, "", updateBody(anonID, `[{"topic":"posts/*"}]`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("anonymous update: status = %d", resp.StatusCode)
	}
	hub.Publish(seqChange(6, "posts", "p6", "public", true, "views", 30))
	if d := anon.nextChange(t); d.Seq != 6 {
		t.Fatalf("change = %+v", d)
	}
	alice.quiet(t, settle)
}

func TestSSEExpiryEndsStream(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	s, _ := connectSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"},
		expires: time.Now().Add(400 * time.Millisecond).Format(time.RFC3339Nano)})
	hub.Publish(seqChange(1, "posts", "p1", "public", true))
	if d := s.nextChange(t); d.Seq != 1 {
		t.Fatalf("change = %+v", d)
	}
	rest := s.expectEnd(t)
	if len(rest) != 1 || rest[0].Event != "expired" || !strings.Contains(rest[0].Data, "reason") {
		t.Fatalf("events before the end = %+v, want one expired", rest)
	}
}

func TestCloseEndsStreamsAndRefusesNewOnes(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	s, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	ws, _ := openWS(t, srv, "", "")
	began := time.Now()
	hub.Close()
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Close took %v", took)
	}
	if rest := s.expectEnd(t); len(rest) != 0 {
		t.Fatalf("events before the end = %+v", rest)
	}
	if code, _ := ws.closed(t); code != 1001 {
		t.Fatalf("close status = %d, want 1001 going away", code)
	}
	st, resp := dialSSE(t, srv, sseRequest{})
	if st != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		problemOf(t, resp).Code != realtime.CodeUnavailable {
		t.Fatalf("after Close: status = %d", resp.StatusCode)
	}
	if _, resp, err := dialWS(t, srv, "", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket after Close: %v", err)
	}
	hub.Publish(seqChange(1, "posts", "p1", "public", true)) // no effect, no panic
	hub.Close()                                              // idempotent
}

func TestSSEResumeFromQueryLastEventID(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	hub.Publish(seqChange(1, "posts", "p1", "public", true))
	hub.Publish(seqChange(2, "posts", "p2", "public", true))
	q := url.Values{"subscribe": {"posts/*"}, "lastEventId": {"1"}}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/realtime?"+q.Encode(), nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := newSSEStream(resp, cancel)
	t.Cleanup(s.close)
	if ev := s.next(t); ev.Event != "connect" || ev.ID != "1" {
		t.Fatalf("connect = %+v", ev)
	}
	if d := s.nextChange(t); d.Seq != 2 {
		t.Fatalf("change = %+v", d)
	}
}
