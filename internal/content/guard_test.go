package content_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// hiddenUsers: a users collection nobody but admins may read (view null),
// holding phone numbers, and posts anyone may list whose author is one of
// them.
const (
	hiddenUsersDef = `{"name": "members", "fields": [{"name": "name", "type": "text"}, {"name": "phone", "type": "text"}]}`
	authoredDef    = `{"name": "posts", "fields": [{"name": "title", "type": "text"},
	    {"name": "author", "type": "relation", "collection": "members"}],
	  "rules": {"list": "", "view": "", "create": ""}}`
)

// TestFilterCannotReadHiddenRelations: a filter that follows a relation
// into a collection the caller may not view matches nothing there (the
// phone numbers of hidden users cannot be probed one character at a
// time), while an admin's matches all; and a write naming a hidden record
// gets the answer of a missing one.
func TestFilterCannotReadHiddenRelations(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, hiddenUsersDef)
		c.collection(r, authoredDef)
		sue := r.create("members", c.admin, map[string]any{"name": "Sue", "phone": "555-0100"})
		for _, title := range []string{"one", "two"} {
			r.create("posts", c.admin, map[string]any{"title": title, "author": sue.str("id")})
		}
		bob := c.tokens.mint(nil, nil)
		path := "/v1/collections/posts/records?filter=" + url.QueryEscape(`author.phone ~ "555"`)
		if got := r.call("GET", path, nil, bob).expect(t, 200, ""); len(got.items()) != 0 {
			t.Errorf("a user reads through a hidden relation: %s", got.Raw)
		}
		if got := r.call("GET", path, nil, c.admin).expect(t, 200, ""); len(got.items()) != 2 {
			t.Errorf("the admin's filter: %s", got.Raw)
		}

		missing := r.call("POST", "/v1/collections/posts/records",
			map[string]any{"title": "x", "author": "01900000-0000-7000-8000-000000000000"}, bob).expect(t, 400, "content.validation_failed")
		hidden := r.call("POST", "/v1/collections/posts/records",
			map[string]any{"title": "x", "author": sue.str("id")}, bob).expect(t, 400, "content.validation_failed")
		if fieldCode(missing) != "not_found" || fieldCode(hidden) != fieldCode(missing) {
			t.Errorf("a hidden id answers %s, a missing one %s: they must not differ", hidden.Raw, missing.Raw)
		}
	})
}

// fieldCode is the code of the first field error of a problem.
func fieldCode(r response) string {
	l, _ := r.Body["errors"].([]any)
	if len(l) == 0 {
		return ""
	}
	m, _ := l[0].(map[string]any)
	s, _ := m["code"].(string)
	return s
}

// TestRealtimeFilterCannotReadHiddenRelations: a subscription's filter
// sees through relations only what its caller may view, as a list's
// does; an admin's sees everything.
func TestRealtimeFilterCannotReadHiddenRelations(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, hiddenUsersDef)
		c.collection(r, authoredDef)
		sue := r.create("members", c.admin, map[string]any{"name": "Sue", "phone": "555-0100"})
		bob := c.tokens.mint(nil, nil)
		filter := url.QueryEscape(`[{"topic": "posts/*", "filter": "author.phone ~ \"555\" || title = \"marker\""}]`)
		userSSE := openSSE(t, r.URL+"/v1/realtime?subscriptions="+filter, bob, "")
		userSSE.next(t, "connect")
		adminSSE := openSSE(t, r.URL+"/v1/realtime?subscriptions="+filter, c.admin, "")
		adminSSE.next(t, "connect")
		probe := r.create("posts", c.admin, map[string]any{"title": "probe", "author": sue.str("id")})
		r.create("posts", c.admin, map[string]any{"title": "marker"})
		if got := changeOf(t, adminSSE.next(t, "change")); got["id"] != probe.str("id") {
			t.Errorf("the admin's first change = %v, want the probe", got)
		}
		if got := changeOf(t, userSSE.next(t, "change")); got["record"].(map[string]any)["title"] != "marker" {
			t.Errorf("the user's first change = %v, want the marker (the probe matched through a hidden relation)", got)
		}
	})
}

func changeOf(t *testing.T, ev sseEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		t.Fatalf("change %q: %v", ev.data, err)
	}
	return m
}

// TestRealtimeTopicRules: "coll/*" is held to the list rule (as a list
// would be), "coll/{id}" to the view rule.
func TestRealtimeTopicRules(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "notes", "fields": [{"name": "text", "type": "text"}, {"name": "author", "type": "owner"}],
		  "rules": {"list": "author = @request.auth.id", "view": "", "create": "@request.auth.id != null",
		            "update": "author = @request.auth.id"}}`)
		ann, bob := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)
		annNote := r.create("notes", ann, map[string]any{"text": "ann's"})
		all := openSSE(t, r.URL+"/v1/realtime?subscribe=notes/*", bob, "")
		all.next(t, "connect")
		one := openSSE(t, r.URL+"/v1/realtime?subscribe=notes/"+annNote.str("id"), bob, "")
		one.next(t, "connect")
		r.call("PATCH", "/v1/collections/notes/records/"+annNote.str("id"), map[string]any{"text": "edited"}, ann).expect(t, 200, "")
		mine := r.create("notes", bob, map[string]any{"text": "bob's"})
		if got := changeOf(t, all.next(t, "change")); got["id"] != mine.str("id") {
			t.Errorf("notes/* got %v first, want bob's own note: the list rule hides ann's", got)
		}
		if got := changeOf(t, one.next(t, "change")); got["id"] != annNote.str("id") {
			t.Errorf("notes/{id} got %v, want ann's note, which the view rule shows", got)
		}
	})
}

// TestRealtimeFilterCost: a subscription's filter may make at most 16
// comparisons.
func TestRealtimeFilterCost(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, postsDef)
		cmp := func(n int) string {
			parts := make([]string, n)
			for i := range parts {
				parts[i] = "views = " + string(rune('0'+i%10))
			}
			return strings.Join(parts, " || ")
		}
		sub := func(filter string) string {
			raw, _ := json.Marshal([]map[string]any{{"topic": "posts/*", "filter": filter}})
			return r.URL + "/v1/realtime?subscriptions=" + url.QueryEscape(string(raw))
		}
		if status, code := probe(t, "GET", sub(cmp(17))); status != 400 || code != "content.invalid_subscription" {
			t.Errorf("17 comparisons: %d %s, want 400 content.invalid_subscription", status, code)
		}
		if status, _ := probe(t, "GET", sub(cmp(16))); status != 200 {
			t.Errorf("16 comparisons: %d, want 200", status)
		}
	})
}

// TestUpdateRuleAfterTheChange: the update rule must hold for the record
// as changed, not only as it was; and the answer to an update shows the
// record only when the caller may view it.
func TestUpdateRuleAfterTheChange(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "drafts", "fields": [{"name": "text", "type": "text"}, {"name": "approved", "type": "bool"},
		    {"name": "author", "type": "owner"}],
		  "rules": {"list": "author = @request.auth.id", "view": "author = @request.auth.id && approved = false",
		            "create": "@request.auth.id != null", "update": "author = @request.auth.id && approved = false"}}`)
		ann := c.tokens.mint(nil, nil)
		d := r.create("drafts", ann, map[string]any{"text": "x", "approved": false})
		path := "/v1/collections/drafts/records/" + d.str("id")
		r.call("PATCH", path, map[string]any{"approved": true}, ann).expect(t, 403, "content.forbidden")
		r.call("PUT", path, map[string]any{"text": "y", "approved": true}, ann).expect(t, 403, "content.forbidden")
		batch := r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "PATCH", "collection": "drafts", "id": d.str("id"), "body": map[string]any{"approved": true}}}}, ann)
		batch.expect(t, 403, "content.forbidden")
		if got := r.call("GET", path, nil, c.admin).expect(t, 200, ""); got.Body["approved"] != false || got.Body["version"] != float64(1) {
			t.Errorf("after refused updates: %s", got.Raw)
		}

		// Ann may update, but not view, a record the view rule hides
		// (here: an admin approved it, and the update rule was loosened).
		r.call("PATCH", "/v1/collections/drafts", map[string]any{"rules": map[string]any{"update": "author = @request.auth.id"}}, c.admin).expect(t, 200, "")
		r.call("PATCH", path, map[string]any{"approved": true}, c.admin).expect(t, 200, "")
		upd := r.call("PATCH", path, map[string]any{"text": "z"}, ann).expect(t, 204, "")
		if upd.Raw != "" {
			t.Errorf("an update the caller may not view answered %q", upd.Raw)
		}
		b := r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "PATCH", "collection": "drafts", "id": d.str("id"), "body": map[string]any{"text": "w"}}}}, ann).expect(t, 200, "")
		if res := b.Body["responses"].([]any)[0].(map[string]any); res["status"] != float64(204) || res["body"] != nil {
			t.Errorf("batch result = %v, want 204 without the record", res)
		}
		if got := r.call("GET", path, nil, c.admin).expect(t, 200, ""); got.Body["text"] != "w" {
			t.Errorf("the updates were not written: %s", got.Raw)
		}
	})
}
