package realtime_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/testenv"
)

// refusedTooMany checks a 429 answer for too many connections.
func refusedTooMany(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("response = %v, want 429", resp)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if p := problemOf(t, resp); p.Code != realtime.CodeTooManyConnections {
		t.Fatalf("problem = %+v", p)
	}
}

func TestConnectionsPerSubjectLimit(t *testing.T) {
	_, srv := newServer(t, realtime.Options{
		MaxConnectionsPerSubject: 2,
		ClientKey:                func(r *http.Request) string { return r.Header.Get("X-Client") },
	})
	alice1, _ := connectSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"}})
	openWS(t, srv, "alice", "")
	s, resp := dialSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"}})
	if s != nil {
		t.Fatal("a third connection of alice was accepted")
	}
	refusedTooMany(t, resp)
	_, resp, err := dialWS(t, srv, "", http.Header{"X-User": {"alice"}})
	if err == nil {
		t.Fatal("a third (WebSocket) connection of alice was accepted")
	}
	refusedTooMany(t, resp)
	connectSSE(t, srv, sseRequest{user: "bob"}) // others are not affected

	// Anonymous callers count by ClientKey.
	one := sseRequest{header: http.Header{"X-Client": {"198.51.100.1"}}}
	connectSSE(t, srv, one)
	connectSSE(t, srv, one)
	_, resp = dialSSE(t, srv, one)
	refusedTooMany(t, resp)
	connectSSE(t, srv, sseRequest{header: http.Header{"X-Client": {"198.51.100.2"}}})

	// A connection that ends frees its place.
	alice1.close()
	testenv.WaitFor(t, wait, "the freed place to accept a connection", func() bool {
		s, resp := dialSSE(t, srv, sseRequest{user: "alice"})
		if s != nil {
			s.close()
		}
		return resp.StatusCode == http.StatusOK
	})
}

func TestConnectionsLimitDefaultsAndOff(t *testing.T) {
	_, srv := newServer(t, realtime.Options{})
	for range realtime.DefaultMaxConnectionsPerSubject {
		connectSSE(t, srv, sseRequest{}) // anonymous, all from 127.0.0.1
	}
	_, resp := dialSSE(t, srv, sseRequest{})
	refusedTooMany(t, resp)

	_, srv = newServer(t, realtime.Options{MaxConnectionsPerSubject: -1})
	for range realtime.DefaultMaxConnectionsPerSubject + 5 {
		connectSSE(t, srv, sseRequest{user: "alice"})
	}
}

func TestEndSubjectAndSession(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	s1, _ := connectSSE(t, srv, sseRequest{user: "alice", session: "ses_1", subscribe: []string{"posts/*"}})
	s2, _ := connectSSE(t, srv, sseRequest{user: "alice", session: "ses_2", subscribe: []string{"posts/*"}})
	ws, _ := openWS(t, srv, "alice", "subscribe=posts/*")
	bob, _ := connectSSE(t, srv, sseRequest{user: "bob", session: "ses_1", subscribe: []string{"posts/*"}})
	anon, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})

	hub.EndSession("ses_2", "session_revoked")
	rest := s2.expectEnd(t)
	if len(rest) != 1 || rest[0].Event != "ended" || rest[0].Data != `{"reason":"session_revoked"}` {
		t.Fatalf("ended session: %+v", rest)
	}
	hub.EndSubject("", "nobody")  // ends nothing, not the anonymous
	hub.EndSession("", "nothing") // likewise
	hub.EndSubject("alice", "user_deleted")
	rest = s1.expectEnd(t)
	if len(rest) != 1 || rest[0].Event != "ended" || rest[0].Data != `{"reason":"user_deleted"}` {
		t.Fatalf("ended subject (SSE): %+v", rest)
	}
	code, msgs := ws.closed(t)
	if code != 1008 || len(msgs) != 1 || msgs[0]["type"] != "ended" || msgs[0]["reason"] != "user_deleted" {
		t.Fatalf("ended subject (WebSocket): close %d after %v", code, msgs)
	}

	stillServed(t, hub, bob, anon)
}

// TestEndAPIKey: a revoked key's connections end; another key's of the
// same owner, and a user's session whose id is the key's, stay.
func TestEndAPIKey(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	key := func(id string) sseRequest {
		return sseRequest{user: "svc", header: http.Header{"X-Key": {id}}, subscribe: []string{"posts/*"}}
	}
	revoked, _ := connectSSE(t, srv, key("key_1"))
	other, _ := connectSSE(t, srv, key("key_2"))
	user, _ := connectSSE(t, srv, sseRequest{user: "svc", session: "key_1", subscribe: []string{"posts/*"}})
	hub.EndAPIKey("", "nothing")
	hub.EndAPIKey("key_1", "api_key_revoked")
	if rest := revoked.expectEnd(t); len(rest) != 1 || rest[0].Data != `{"reason":"api_key_revoked"}` {
		t.Fatalf("revoked key's stream: %+v", rest)
	}
	stillServed(t, hub, other, user)
}

// stillServed publishes a public post and checks that each stream gets it:
// the connections an end did not concern are served on.
func stillServed(t *testing.T, hub *realtime.Hub, streams ...*sseStream) {
	t.Helper()
	hub.Publish(seqChange(1, "posts", "p1", "public", true))
	for _, s := range streams {
		if d := s.nextChange(t); d.Seq != 1 {
			t.Fatalf("got %+v", d)
		}
	}
}

// TestEndedCredentialsStayOut: a connection authenticated before a
// revocation reached this replica, registering after the hub ended the
// revoked ones, is refused too (401): a session, a key, or a subject's
// tokens issued up to the end. A token issued after it gets in.
func TestEndedCredentialsStayOut(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	hub.EndSession("ses_1", "session_revoked")
	hub.EndAPIKey("key_1", "api_key_revoked")
	hub.EndSubject("carol", "user_deleted")
	for name, sr := range map[string]sseRequest{
		"session": {user: "alice", session: "ses_1"},
		"key":     {user: "svc", header: http.Header{"X-Key": {"key_1"}}},
		"subject": {user: "carol", session: "ses_9", header: http.Header{"X-Issued": {time.Now().Add(-time.Minute).Format(time.RFC3339Nano)}}},
	} {
		if _, resp := dialSSE(t, srv, sr); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s ended: a new connection got %d, want 401", name, resp.StatusCode)
		}
	}
	later := sseRequest{user: "carol", session: "ses_10", header: http.Header{"X-Issued": {time.Now().Add(time.Second).Format(time.RFC3339Nano)}}}
	if _, resp := dialSSE(t, srv, later); resp.StatusCode != http.StatusOK {
		t.Errorf("a token issued after the end: %d, want 200", resp.StatusCode)
	}
	if _, resp := dialSSE(t, srv, sseRequest{user: "alice", session: "ses_2"}); resp.StatusCode != http.StatusOK {
		t.Errorf("another session of the same user: %d, want 200", resp.StatusCode)
	}
}

func TestMaxConnectionAgeEndsTheStream(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{MaxConnectionAge: 300 * time.Millisecond})
	s, _ := connectSSE(t, srv, sseRequest{user: "svc", subscribe: []string{"posts/*"}}) // no expiry, like an API key
	anon, _ := connectSSE(t, srv, sseRequest{})
	ws, _ := openWS(t, srv, "", "")
	hub.Publish(seqChange(1, "posts", "p1", "public", true))
	if d := s.nextChange(t); d.Seq != 1 {
		t.Fatalf("change = %+v", d)
	}
	for _, st := range []*sseStream{s, anon} {
		rest := st.expectEnd(t)
		if len(rest) != 1 || rest[0].Event != "expired" || !strings.Contains(rest[0].Data, "maximum age") {
			t.Fatalf("events before the end = %+v, want one expired", rest)
		}
	}
	if code, msgs := ws.closed(t); code != 1008 || len(msgs) != 1 || msgs[0]["type"] != "expired" {
		t.Fatalf("WebSocket: close %d after %v", code, msgs)
	}

	// A credential that expires first still wins.
	early := time.Now().Add(100 * time.Millisecond).Format(time.RFC3339Nano)
	s, _ = connectSSE(t, srv, sseRequest{user: "alice", expires: early})
	if rest := s.expectEnd(t); len(rest) != 1 || !strings.Contains(rest[0].Data, "credential expired") {
		t.Fatalf("events before the end = %+v", rest)
	}
}

func TestResumeWindowIsBoundedInBytes(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{WindowMaxBytes: 10 << 10})
	body := strings.Repeat("x", 3<<10)
	for i := uint64(1); i <= 10; i++ {
		hub.Publish(seqChange(i, "posts", "p", "public", true, "body", body))
	}
	// Three changes of a bit over 3 KiB fit in 10 KiB: 7 was evicted last.
	s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "7"})
	s.next(t)
	var got []changeData
	for range 3 {
		got = append(got, s.nextChange(t))
	}
	if !slices.Equal(seqs(got), []uint64{8, 9, 10}) {
		t.Fatalf("replayed %v", seqs(got))
	}
	s = openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "6"})
	if s.next(t); s.next(t).Data != `{"reason":"too_old"}` {
		t.Fatal("want a reset too_old")
	}
}
