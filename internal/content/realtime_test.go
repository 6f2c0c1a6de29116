package content_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// wait bounds every realtime expectation.
const wait = 10 * time.Second

// TestRealtimeAcrossReplicas runs two content services sharing one
// database and one NATS (two connections to an external server when
// BAM_TEST_NATS_URL is set; with PostgreSQL when BAM_TEST_POSTGRES_URL
// is). A record written through replica A reaches an SSE client on B and
// a WebSocket client on A only if the view rule lets that client see it;
// a subscription's filter narrows it further; a client that reconnects
// (to the other replica) with Last-Event-ID gets what it missed.
func TestRealtimeAcrossReplicas(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dbA, dbB := sharedDB(t, d)
			busA, busB := twoBuses(t)
			c := newCluster(t, busA)
			a, b := c.start(dbA, busA), c.start(dbB, busB)
			c.collection(a, postsDef)
			ann, bob := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)

			sse := openSSE(t, b.URL+"/v1/realtime?subscribe=posts/*", bob, "")
			sse.next(t, "connect")
			ws := openWS(t, a.URL+"/v1/realtime", bob)
			ws.send(t, map[string]any{"type": "subscribe", "id": "all", "topic": "posts/*"})
			ws.send(t, map[string]any{"type": "subscribe", "id": "popular", "topic": "posts/*", "filter": "views > 10"})
			ws.expect(t, "ack")
			ws.expect(t, "ack")
			annWS := openWS(t, a.URL+"/v1/realtime", ann)
			annWS.send(t, map[string]any{"type": "subscribe", "id": "mine", "topic": "posts/*"})
			annWS.expect(t, "ack")

			draft := a.create("posts", ann, map[string]any{"title": "draft", "published": false})
			pub := a.create("posts", ann, map[string]any{"title": "pub", "published": true, "views": 1})

			// Bob's clients: the draft is not his to see, so the first
			// change each gets is the published post.
			ev := sse.next(t, "change")
			var ch map[string]any
			_ = json.Unmarshal([]byte(ev.data), &ch)
			if ch["id"] != pub.str("id") || ch["action"] != "created" {
				t.Fatalf("SSE on B got %s, want the published post (not the draft %s)", ev.data, draft.str("id"))
			}
			if rec, _ := ch["record"].(map[string]any); rec["title"] != "pub" {
				t.Errorf("SSE record = %v", ch["record"])
			}
			m := ws.expect(t, "change")
			if m["id"] != pub.str("id") || !slices.Equal(names(m), []string{"all"}) {
				t.Fatalf("WebSocket on A got %v", m)
			}
			// Ann sees her draft and her post.
			if m := annWS.expect(t, "change"); m["id"] != draft.str("id") {
				t.Errorf("ann's first change = %v", m)
			}
			annWS.expect(t, "change")

			// Bob reconnects, to the other replica, from the last id he saw.
			sse.close()
			p2 := a.create("posts", ann, map[string]any{"title": "p2", "published": true, "views": 50})
			a.create("posts", ann, map[string]any{"title": "hidden", "published": false})
			p3 := a.create("posts", ann, map[string]any{"title": "p3", "published": true})
			if m := ws.expect(t, "change"); m["id"] != p2.str("id") || !slices.Equal(names(m), []string{"all", "popular"}) {
				t.Errorf("WebSocket got %v, want p2 for both subscriptions", m)
			}
			again := openSSE(t, a.URL+"/v1/realtime?subscribe=posts/*", bob, ev.id)
			var got []string
			for len(got) < 2 {
				e := again.next(t, "change")
				var x map[string]any
				_ = json.Unmarshal([]byte(e.data), &x)
				got = append(got, x["id"].(string))
			}
			if want := []string{p2.str("id"), p3.str("id")}; !slices.Equal(got, want) {
				t.Errorf("replayed %v, want %v (missed changes, in order, only visible ones)", got, want)
			}
		})
	}
}

// TestRealtimeRelationFilter: subscribers whose rule or filter follows a
// relation share one read of the related record per change, however many
// they are.
func TestRealtimeRelationFilter(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "people", "fields": [{"name": "name", "type": "text"}], "rules": {"view": "", "create": ""}}`)
		c.collection(r, `{"name": "stories", "fields": [{"name": "title", "type": "text"},
		    {"name": "author", "type": "relation", "collection": "people"}],
		  "rules": {"list": "author.name != \"Secret\"", "view": "author.name != \"Secret\"", "create": ""}}`)
		ann := r.create("people", user0, map[string]any{"name": "Ann"})
		secret := r.create("people", user0, map[string]any{"name": "Secret"})
		var clients []*wsClient
		for range 3 {
			w := openWS(t, r.URL+"/v1/realtime", c.tokens.mint(nil, nil))
			w.send(t, map[string]any{"type": "subscribe", "id": "ann", "topic": "stories/*", "filter": `author.name = "Ann"`})
			w.expect(t, "ack")
			clients = append(clients, w)
		}
		r.create("stories", user0, map[string]any{"title": "hidden", "author": secret.str("id")})
		r.create("stories", user0, map[string]any{"title": "other", "author": ann.str("id")})
		for _, w := range clients {
			m := w.expect(t, "change")
			if rec, _ := m["record"].(map[string]any); rec["title"] != "other" {
				t.Fatalf("got %v, want only the story by Ann", m)
			}
			seq := uint64(m["seq"].(float64))
			if n := content.RealtimeReads(r.svc, seq); n != 1 {
				t.Errorf("change %d cost %d reads of related records, want 1 for every subscriber together", seq, n)
			}
		}
	})
}

func names(m map[string]any) []string {
	var out []string
	l, _ := m["subscriptions"].([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

// sharedDB opens one fresh database of dialect d twice, as two replicas
// would.
func sharedDB(t *testing.T, d store.Dialect) (*store.DB, *store.DB) {
	t.Helper()
	ctx := context.Background()
	url, opts := "", store.Options{Name: "content"}
	switch d {
	case store.SQLite:
		url = "sqlite:" + filepath.Join(t.TempDir(), "content.db")
	default:
		url = testenv.PostgresURL(t)
		opts.Schema = "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	open := func() *store.DB {
		db, err := store.Open(ctx, url, opts)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b := open(), open()
	t.Cleanup(func() {
		_ = b.Close()
		if opts.Schema != "" {
			_, _ = a.SQL().ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()+" CASCADE")
		}
		_ = a.Close()
	})
	if err := a.Migrate(ctx, content.Migrations...); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// twoBuses returns two connections to one NATS: an external server when
// configured, else one embedded bus both replicas share.
func twoBuses(t *testing.T) (*bus.Bus, *bus.Bus) {
	if testenv.Has(testenv.NATSVar) {
		return bustest.Open(t, bustest.External), bustest.Open(t, bustest.External)
	}
	b := bustest.Open(t, bustest.Embedded)
	return b, b
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

type sseClient struct {
	events chan sseEvent
	cancel context.CancelFunc
}

// openSSE connects as u, resuming after lastID when set.
func openSSE(t *testing.T, url string, u user, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	if u.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	c := &sseClient{events: make(chan sseEvent, 64), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20) // a change of a large record is one long line
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" || ev.data != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id:"):
				ev.id = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "event:"):
				ev.event = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				ev.data += strings.TrimSpace(line[5:])
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

// next returns the next event of the given type, skipping others.
func (c *sseClient) next(t *testing.T, event string) sseEvent {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("the stream ended before a %s event", event)
			}
			if ev.event == event || (event == "change" && ev.event == "") {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", event, wait)
		}
	}
}

func (c *sseClient) close() { c.cancel() }

type wsClient struct {
	conn *websocket.Conn
	msgs chan map[string]any
}

// openWS connects a WebSocket as u.
func openWS(t *testing.T, url string, u user) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	h := http.Header{}
	if u.Token != "" {
		h.Set("Authorization", "Bearer "+u.Token)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{conn: conn, msgs: make(chan map[string]any, 64)}
	go func() {
		defer close(c.msgs)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) == nil {
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })
	c.expect(t, "connected")
	return c
}

func (c *wsClient) send(t *testing.T, m map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, raw); err != nil {
		t.Fatal(err)
	}
}

// expect returns the next message, which must be of type typ.
func (c *wsClient) expect(t *testing.T, typ string) map[string]any {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatalf("the WebSocket closed before a %s message", typ)
		}
		if m["type"] != typ {
			t.Fatalf("got %v, want a %s message", m, typ)
		}
		return m
	case <-time.After(wait):
		t.Fatalf("no %s message within %s", typ, wait)
	}
	return nil
}

// TestRealtimeSensitive: a sensitive collection's events carry no data,
// so the replica reads the record (once per change) to check rules and
// deliver it; a deletion, with nothing to check a rule against, reaches
// admins only.
func TestRealtimeSensitive(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "secrets", "sensitive": true, "fields": [{"name": "code", "type": "text"}],
		  "rules": {"list": "", "view": "", "create": "", "delete": ""}}`)
		anon := openSSE(t, r.URL+"/v1/realtime?subscribe=secrets/*", user0, "")
		anon.next(t, "connect")
		admin := openSSE(t, r.URL+"/v1/realtime?subscribe=secrets/*", c.admin, "")
		admin.next(t, "connect")
		s := r.create("secrets", user0, map[string]any{"code": "1234"})
		for _, cl := range []*sseClient{anon, admin} {
			var ch map[string]any
			_ = json.Unmarshal([]byte(cl.next(t, "change").data), &ch)
			if rec, _ := ch["record"].(map[string]any); rec["code"] != "1234" {
				t.Errorf("created = %v, want the record read back", ch)
			}
		}
		r.call("DELETE", "/v1/collections/secrets/records/"+s.str("id"), nil, user0).expect(t, 204, "")
		r.create("secrets", user0, map[string]any{"code": "marker"})
		var first map[string]any
		_ = json.Unmarshal([]byte(admin.next(t, "change").data), &first)
		if first["action"] != "deleted" || first["record"] != nil {
			t.Errorf("the admin's next change = %v, want the deletion without data", first)
		}
		var next map[string]any
		_ = json.Unmarshal([]byte(anon.next(t, "change").data), &next)
		if next["action"] != "created" {
			t.Errorf("anonymous client got %v, want no deletion (only the marker)", next)
		}
	})
}

// TestRealtimeRefusals: a subscription must name an existing collection
// in a topic, with a filter that checks, on a collection the caller may
// view.
func TestRealtimeRefusals(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, postsDef)
		c.collection(r, `{"name": "hidden", "fields": [{"name": "x", "type": "text"}]}`)
		for _, q := range []string{"subscribe=nope/*", "subscribe=posts", "subscribe=hidden/*",
			`subscriptions=[{"topic":"posts/*","filter":"views >"}]`, `subscriptions=[{"topic":"posts/*","filter":"nope = 1"}]`} {
			resp := probeQuery(t, r.URL+"/v1/realtime?"+q)
			if resp != 400 {
				t.Errorf("%s: %d, want 400", q, resp)
			}
		}
		if s := probeQuery(t, r.URL+"/v1/realtime?subscribe=posts/*"); s != 200 {
			t.Errorf("a good subscription: %d", s)
		}
	})
}

// probeQuery opens a stream and returns its status at once.
func probeQuery(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = u.Query().Encode()
	s, _ := probe(t, "GET", u.String())
	return s
}
