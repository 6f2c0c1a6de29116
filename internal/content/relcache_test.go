package content_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/content/realtime"
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

// TestRealtimeRelationReadFails: when the related records of a change
// cannot be read (here: out of time), the failure is kept for the change,
// so its matchers read nothing themselves: those that need the relation
// do not match (fail closed), the others still do.
func TestRealtimeRelationReadFails(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "people", "fields": [{"name": "name", "type": "text"}], "rules": {"view": "", "create": ""}}`)
		c.collection(r, `{"name": "stories", "fields": [{"name": "title", "type": "text"},
		    {"name": "author", "type": "relation", "collection": "people"}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		ann := r.create("people", user0, map[string]any{"name": "Ann"})
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
