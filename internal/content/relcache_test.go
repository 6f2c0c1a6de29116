package content_test

import (
	"context"
	"encoding/json"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/httpx"
)

// TestRealtimeRelationReadsPerHop: the related records a change's
// subscribers need are read before the change is published, one query
// per relation hop for all the ids of that hop, however many related
// records and subscribers there are.
func TestRealtimeRelationReadsPerHop(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "groups", "fields": [{"name": "name", "type": "text"}], "rules": {"view": "", "create": ""}}`)
		c.collection(r, `{"name": "people", "fields": [{"name": "name", "type": "text"},
		    {"name": "team", "type": "relation", "collection": "groups"}], "rules": {"view": "", "create": ""}}`)
		c.collection(r, `{"name": "stories", "fields": [{"name": "title", "type": "text"},
		    {"name": "authors", "type": "relation", "collection": "people", "multi": true}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		g1 := r.create("groups", user0, map[string]any{"name": "G1"})
		g2 := r.create("groups", user0, map[string]any{"name": "G2"})
		var authors []any
		for i, g := range []response{g1, g2, g2} {
			p := r.create("people", user0, map[string]any{"name": string(rune('a' + i)), "team": g.str("id")})
			authors = append(authors, p.str("id"))
		}
		var clients []*wsClient
		for range 3 {
			w := openWS(t, r.URL+"/v1/realtime", c.tokens.mint(nil, nil))
			w.send(t, map[string]any{"type": "subscribe", "id": "g1", "topic": "stories/*", "filter": `authors.team.name = "G1"`})
			w.expect(t, "ack")
			clients = append(clients, w)
		}
		r.create("stories", user0, map[string]any{"title": "none"})
		r.create("stories", user0, map[string]any{"title": "three", "authors": authors})
		for _, w := range clients {
			m := w.expect(t, "change")
			if rec, _ := m["record"].(map[string]any); rec["title"] != "three" {
				t.Fatalf("got %v, want the story with an author in G1", m)
			}
			if n := content.RealtimeReads(r.svc, uint64(m["seq"].(float64))); n != 2 {
				t.Errorf("the change cost %d reads, want 2: one per hop (authors, authors.team)", n)
			}
		}
	})
}

// storiesByPeople creates collections people and stories (whose author is
// a relation to people), public, and the person Ann, returned.
func storiesByPeople(c *cluster, r *replica) response {
	c.collection(r, `{"name": "people", "fields": [{"name": "name", "type": "text"}], "rules": {"view": "", "create": ""}}`)
	c.collection(r, `{"name": "stories", "fields": [{"name": "title", "type": "text"},
	    {"name": "author", "type": "relation", "collection": "people"}],
	  "rules": {"list": "", "view": "", "create": ""}}`)
	return r.create("people", user0, map[string]any{"name": "Ann"})
}

// TestRealtimeRelationReadFails: when the related records of a change
// cannot be read (here: out of time), the failure is kept for the change,
// so its matchers read nothing themselves: those that need the relation
// do not match (fail closed), the others still do.
func TestRealtimeRelationReadFails(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		ann := storiesByPeople(c, r)
		ctx := context.Background()
		byAnn, err := content.Matcher(ctx, r.svc, nil, realtime.Subscription{Topic: "stories/*", Filter: `author.name = "Ann"`})
		if err != nil {
			t.Fatal(err)
		}
		plain, err := content.Matcher(ctx, r.svc, nil, realtime.Subscription{Topic: "stories/*"})
		if err != nil {
			t.Fatal(err)
		}
		ch := &realtime.Change{Seq: 1 << 40, Action: "created", Collection: "stories", ID: "x",
			Record: map[string]any{"id": "x", "title": "t", "author": ann.str("id")}}
		done, cancel := context.WithCancel(ctx)
		cancel()
		reads, failed := content.Preload(done, r.svc, ch)
		if reads != 1 || !slices.Equal(failed, []string{"author"}) {
			t.Fatalf("preload out of time: %d reads, failed %v; want 1 read, author failed", reads, failed)
		}
		for range 3 {
			if ok, err := byAnn(ch); ok || err == nil {
				t.Errorf("a matcher needing the failed relation: %v, %v; want no match, with an error", ok, err)
			}
		}
		if ok, err := plain(ch); !ok || err != nil {
			t.Errorf("a matcher not needing it: %v, %v", ok, err)
		}
		if n := content.RealtimeReads(r.svc, ch.Seq); n != 1 {
			t.Errorf("matchers read related records themselves: %d reads", n)
		}
		// Read in time, the same change matches.
		ch.Seq++
		if reads, failed := content.Preload(ctx, r.svc, ch); reads != 1 || len(failed) != 0 {
			t.Fatalf("preload: %d reads, failed %v", reads, failed)
		}
		if ok, err := byAnn(ch); !ok || err != nil {
			t.Errorf("after a good preload: %v, %v", ok, err)
		}
	})
}

// TestRealtimeResumeKeepsRelationPaths: a client whose filter follows a
// relation goes away and resumes with Last-Event-ID; the change it missed
// meanwhile was read with its relation path (kept for pathLinger after the
// subscription's matcher is collected), so its replay matches. Without the
// linger the path was dropped with the matcher and the replay failed the
// filter closed: the change was silently lost.
func TestRealtimeResumeKeepsRelationPaths(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		ann := storiesByPeople(c, r)
		u := c.tokens.mint(nil, nil)
		q := url.Values{"subscriptions": {`[{"id":"ann","topic":"stories/*","filter":"author.name = \"Ann\""}]`}}
		s := openSSE(t, r.URL+"/v1/realtime?"+q.Encode(), u, "")
		s.next(t, "connect")
		r.create("stories", user0, map[string]any{"title": "one", "author": ann.str("id")})
		first := s.next(t, "change")
		s.close()

		w := openWS(t, r.URL+"/v1/realtime", u) // tells when the next change is published
		w.send(t, map[string]any{"type": "subscribe", "id": "all", "topic": "stories/*"})
		w.expect(t, "ack")
		time.Sleep(300 * time.Millisecond) // the SSE handler returns, the hub lets go of the matcher
		for range 5 {
			runtime.GC() // and its cleanup runs
			time.Sleep(20 * time.Millisecond)
		}
		two := r.create("stories", user0, map[string]any{"title": "two", "author": ann.str("id")})
		w.expect(t, "change")

		s = openSSE(t, r.URL+"/v1/realtime?"+q.Encode(), u, first.id)
		s.next(t, "connect")
		var got map[string]any
		_ = json.Unmarshal([]byte(s.next(t, "change").data), &got)
		if got["id"] != two.str("id") {
			t.Fatalf("replayed %v, want story two", got)
		}
	})
}

// TestOddRequests: answers the review found wrong — an expanded view is
// never "not modified" (its tag does not version the related records); ""
// clears a relation as null does; an id or cursor PostgreSQL cannot store
// (NUL, invalid UTF-8) is a miss or an invalid cursor on both dialects,
// not a 500; unmatched routes answer problem+json.
func TestOddRequests(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		ann := storiesByPeople(c, r)
		story := r.create("stories", user0, map[string]any{"title": "one", "author": ann.str("id")})
		path := "/v1/collections/stories/records/" + story.str("id")
		tag := r.call("GET", path, nil, user0).expect(t, 200, "").Header.Get("ETag")
		r.call("GET", path, nil, user0, "If-None-Match", tag).expect(t, 304, "")
		r.call("PATCH", "/v1/collections/people/records/"+ann.str("id"), map[string]any{"name": "Anne"}, c.admin).expect(t, 200, "")
		got := r.call("GET", path+"?expand=author", nil, user0, "If-None-Match", tag).expect(t, 200, "")
		if !strings.Contains(got.Raw, "Anne") {
			t.Fatalf("expanded view: %s", got.Raw)
		}

		cleared := r.call("PATCH", path, map[string]any{"author": ""}, c.admin).expect(t, 200, "")
		if cleared.Body["author"] != nil {
			t.Fatalf(`author after "": %s`, cleared.Raw)
		}

		for _, id := range []string{"%00", "%FF", "a%00b"} {
			p := "/v1/collections/stories/records/" + id
			r.call("GET", p, nil, c.admin).expect(t, 404, "content.not_found")
			r.call("PATCH", p, map[string]any{"title": "x"}, c.admin).expect(t, 404, "content.not_found")
			r.call("DELETE", p, nil, c.admin).expect(t, 404, "content.not_found")
		}
		cursor := httpx.EncodeCursor(map[string]any{"s": "title,id", "v": []any{"a\x00b", "zzz"}})
		r.call("GET", "/v1/collections/stories/records?sort=title&cursor="+cursor, nil, user0).expect(t, 400, "request.invalid_cursor")

		for _, tc := range []struct{ method, path string }{
			{"DELETE", "/v1/collections/stories/records"},
			{"GET", path + "/more"},
		} {
			resp := r.call(tc.method, tc.path, nil, user0)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || resp.Status < 400 {
				t.Errorf("%s %s: %d %q %s", tc.method, tc.path, resp.Status, ct, resp.Raw)
			}
		}
	})
}
