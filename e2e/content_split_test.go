package e2e_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/testenv"
)

// TestContentSplit runs the content service as two real processes of
// bam, replicas A and B, beside an auth process on its own listener, all
// sharing PostgreSQL (a database of the test's own) and external NATS;
// the replicas verify tokens against the auth process's JWKS. A
// collection made through A is served by B; of the records a user writes
// through A, an SSE client on B gets each only if the collection's list
// rule lets its user see it: the author gets her draft and her published
// post, another user only the published post. When that user signs out
// through auth, B ends their stream. Every process then exits 0 on
// SIGTERM.
func TestContentSplit(t *testing.T) {
	shared := append(sharedBackends(t, "BAM_AUTH", "BAM_CONTENT"),
		"BAM_AUTH_SECRET=content-split-secret-0123456789abcdef01")

	// A shared database gets no generated administrator: bam admin create.
	const adminEmail, adminPW = "admin@example.com", "correct horse battery staple"
	if out, err := run(t, shared, "admin", "create", "--email", adminEmail, "--password", adminPW); err != nil {
		t.Fatalf("bam admin create: %v\n%s", err, out)
	}

	// Every listener on port 0, its address read from its log: the
	// replicas start once the auth process's address is known.
	authProc := start(t, append(shared, "BAM_AUTH_ADDR=127.0.0.1:0"), "--services=auth")
	authURL := authProc.serviceURL("auth")
	content := append(shared, "BAM_CONTENT_ADDR=127.0.0.1:0", "BAM_AUTH_URL="+authURL)
	procA := start(t, content, "--services=content")
	procB := start(t, content, "--services=content")
	a, b := procA.serviceURL("content"), procB.serviceURL("content")

	admin := signIn(t, authURL, adminEmail, adminPW).str("access_token")
	own := "published = true || author = @request.auth.id"
	call(t, "POST", a+"/v1/collections", map[string]any{"name": "posts", "fields": []any{
		map[string]any{"name": "title", "type": "text", "required": true},
		map[string]any{"name": "published", "type": "bool"}, map[string]any{"name": "author", "type": "owner"}},
		"rules": map[string]any{"list": own, "view": own, "create": "@request.auth.id != null"},
	}, admin).expect(t, 201)

	const pw = "correct horse battery staple"
	var users [2]string
	for i, email := range []string{"u1@example.com", "u2@example.com"} {
		call(t, "POST", authURL+"/v1/auth/signup", map[string]any{"email": email, "password": pw}, "").expect(t, 201)
		users[i] = signIn(t, authURL, email, pw).str("access_token")
	}
	u1, u2 := users[0], users[1]

	// B serves the collection made on A (from the event on the stream, or
	// its periodic check of the definitions) before anyone subscribes.
	deadline := time.Now().Add(10 * time.Second)
	for get2(b+"/v1/collections/posts/records", u2) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("replica B does not serve the collection made on A within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	topic := b + "/v1/realtime?subscribe=" + url.QueryEscape("posts/*")
	author, other := sse(t, topic, u1), sse(t, topic, u2)
	author.waitFor(t, "event: connect")
	other.waitFor(t, "event: connect")

	draft := call(t, "POST", a+"/v1/collections/posts/records", map[string]any{"title": "draft", "published": false}, u1).expect(t, 201).str("id")
	pub := call(t, "POST", a+"/v1/collections/posts/records", map[string]any{"title": "news", "published": true}, u1).expect(t, 201).str("id")
	if draft == "" || pub == "" || draft == pub {
		t.Fatalf("record ids %q and %q", draft, pub)
	}

	// The stream is in order: the author's client gets the draft, then
	// the post; the other user's gets the post first, and never the draft.
	if ch := author.nextChange(t); ch["id"] != draft || ch["action"] != "created" {
		t.Errorf("the author's first change on B = %v, want her draft %s created", ch, draft)
	}
	if ch := author.nextChange(t); ch["id"] != pub || ch["action"] != "created" {
		t.Errorf("the author's second change on B = %v, want her post %s created", ch, pub)
	}
	ch := other.nextChange(t)
	if ch["id"] != pub || ch["action"] != "created" {
		t.Fatalf("U2's first change on B = %v, want the published post %s (the draft is %s)", ch, pub, draft)
	}
	if rec, _ := ch["record"].(map[string]any); rec["title"] != "news" {
		t.Errorf("U2's change carries the record %v", ch["record"])
	}
	other.drain(time.Second)
	if other.saw(draft) {
		t.Errorf("U2's SSE client on B saw the draft %s:\n%s", draft, strings.Join(other.seen, "\n"))
	}

	// B reads what A wrote, under the same view rule.
	if got := call(t, "GET", b+"/v1/collections/posts/records/"+pub, nil, u2).expect(t, 200); got.str("title") != "news" {
		t.Errorf("GET the post on B = %s", got.raw)
	}
	call(t, "GET", b+"/v1/collections/posts/records/"+draft, nil, u2).expect(t, 404)

	// U2 signs out through auth: the session.revoked event reaches B over
	// NATS and B ends U2's stream (on a nats-server before 2.10 too,
	// where the follower of auth's events cannot filter on the server).
	call(t, "POST", authURL+"/v1/auth/logout", nil, u2).expect(t, 204)
	other.waitFor(t, "event: ended")
	if line := other.waitFor(t, "data: "); !strings.Contains(line, "session_revoked") {
		t.Errorf("U2's stream on B ended with %q, want session_revoked", line)
	}

	for _, p := range []struct {
		name string
		proc *proc
	}{{"content A", procA}, {"content B", procB}, {"auth", authProc}} {
		if err := p.proc.stop(30 * time.Second); err != nil {
			t.Errorf("%s exit after SIGTERM: %v\n%s", p.name, err, p.proc.output())
		}
	}
}

// sharedBackends gives the processes of a split deployment what they
// share, as environment variables: a fresh PostgreSQL database and the
// external NATS server, on which the streams named are deleted when the
// test ends.
func sharedBackends(t *testing.T, streams ...string) []string {
	t.Helper()
	natsURL := testenv.NATSURL(t)
	env := []string{"BAM_DATABASE_URL=" + freshDatabase(t, testenv.PostgresURL(t)), "BAM_NATS_URL=" + natsURL}
	t.Cleanup(func() {
		for _, s := range streams {
			deleteStream(natsURL, s)
		}
	})
	return env
}

// serviceURL is the base URL of a service's own listener, read from its
// "listening" line once bam is ready.
func (p *proc) serviceURL(service string) string {
	u := p.waitLog("listening", map[string]string{"server": service}, 20*time.Second)["addr"]
	p.waitLog("bam is ready", nil, 20*time.Second)
	s, _ := u.(string)
	return s
}

// nextChange reads up to the next change event and returns its data.
func (s *sseStream) nextChange(t *testing.T) map[string]any {
	t.Helper()
	s.waitFor(t, "event: change")
	line := s.waitFor(t, "data: ")
	var ch map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ch); err != nil {
		t.Fatalf("change data %q: %v", line, err)
	}
	return ch
}

// drain reads whatever the stream sends for d, into seen.
func (s *sseStream) drain(d time.Duration) {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return
			}
			s.seen = append(s.seen, l)
		case <-timeout:
			return
		}
	}
}
