package content_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRulesOwnerOnly: notes are their owner's only. Another user's list
// leaves them out, and a view, update or delete of one answers 404 as if
// it did not exist; anonymous callers may not create.
func TestRulesOwnerOnly(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "notes", "fields": [{"name": "text", "type": "text"}, {"name": "owner", "type": "owner"}],
		  "rules": {"list": "owner = @request.auth.id", "view": "owner = @request.auth.id",
		            "create": "@request.auth.id != null", "update": "owner = @request.auth.id",
		            "delete": "owner = @request.auth.id"}}`)
		ann, bob := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)
		mine := r.create("notes", ann, map[string]any{"text": "ann's"})
		if mine.Body["owner"] != ann.ID {
			t.Errorf("owner = %v, want the caller %s", mine.Body["owner"], ann.ID)
		}
		r.create("notes", bob, map[string]any{"text": "bob's"})
		r.call("POST", "/v1/collections/notes/records", map[string]any{"text": "x"}, user0).expect(t, 403, "content.forbidden")
		r.call("POST", "/v1/collections/notes/records", map[string]any{"text": "x", "owner": bob.ID}, ann).
			expect(t, 400, "content.validation_failed") // owner fields are the server's

		if l := r.call("GET", "/v1/collections/notes/records", nil, ann).expect(t, 200, ""); len(l.items()) != 1 ||
			l.items()[0]["text"] != "ann's" {
			t.Errorf("ann's list = %s", l.Raw)
		}
		if l := r.call("GET", "/v1/collections/notes/records", nil, user0).expect(t, 200, ""); len(l.items()) != 0 {
			t.Errorf("anonymous list = %s", l.Raw)
		}
		path := "/v1/collections/notes/records/" + mine.str("id")
		r.call("GET", path, nil, bob).expect(t, 404, "content.not_found")
		r.call("PATCH", path, map[string]any{"text": "hijacked"}, bob).expect(t, 404, "content.not_found")
		r.call("DELETE", path, nil, bob).expect(t, 404, "content.not_found")
		r.call("GET", path, nil, ann).expect(t, 200, "")
		r.call("GET", path, nil, c.admin).expect(t, 200, "") // admins bypass rules
		if got := r.call("PATCH", path, map[string]any{"text": "edited"}, ann).expect(t, 200, ""); got.Body["text"] != "edited" {
			t.Errorf("update = %s", got.Raw)
		}
		r.call("DELETE", path, nil, ann).expect(t, 204, "")
		r.call("GET", path, nil, ann).expect(t, 404, "")
	})
}

// TestRulesRoleBased: anyone signed in reads articles, only editors
// write them, and only admins (null rule) delete.
func TestRulesRoleBased(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "articles", "fields": [{"name": "title", "type": "text"}],
		  "rules": {"list": "@request.auth.id != null", "view": "@request.auth.id != null",
		            "create": "\"editor\" in @request.auth.roles", "update": "\"editor\" in @request.auth.roles",
		            "delete": null}}`)
		editor, reader := c.tokens.mint([]string{"editor"}, nil), c.tokens.mint([]string{"reader"}, nil)
		a := r.create("articles", editor, map[string]any{"title": "by an editor"})
		r.call("POST", "/v1/collections/articles/records", map[string]any{"title": "no"}, reader).expect(t, 403, "content.forbidden")
		path := "/v1/collections/articles/records/" + a.str("id")
		r.call("GET", path, nil, reader).expect(t, 200, "")
		r.call("GET", path, nil, user0).expect(t, 404, "")
		r.call("GET", "/v1/collections/articles/records", nil, user0).expect(t, 200, "") // admitted, filtered to nothing
		r.call("PATCH", path, map[string]any{"title": "no"}, reader).expect(t, 404, "")
		r.call("PATCH", path, map[string]any{"title": "yes"}, editor).expect(t, 200, "")
		r.call("DELETE", path, nil, editor).expect(t, 404, "") // null: admins only, and no leak
		r.call("DELETE", path, nil, c.admin).expect(t, 204, "")
	})
}

// TestRulesPublicRead: everyone reads published posts; the author also
// sees their drafts; a list is filtered by the rule and by filter=, and a
// null list rule is 403 for non-admins.
func TestRulesPublicRead(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, postsDef)
		ann, bob := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)
		for i, p := range []map[string]any{
			{"title": "pub 5", "views": 5, "published": true},
			{"title": "pub 50", "views": 50, "published": true},
			{"title": "draft 500", "views": 500, "published": false},
		} {
			_ = i
			r.create("posts", ann, p)
		}
		titles := func(resp response) []string {
			var out []string
			for _, it := range resp.items() {
				out = append(out, it["title"].(string))
			}
			slices.Sort(out)
			return out
		}
		list := func(u user, query string) []string {
			return titles(r.call("GET", "/v1/collections/posts/records"+query, nil, u).expect(t, 200, ""))
		}
		if got := list(user0, ""); !slices.Equal(got, []string{"pub 5", "pub 50"}) {
			t.Errorf("anonymous sees %v", got)
		}
		if got := list(ann, ""); len(got) != 3 {
			t.Errorf("the author sees %v", got)
		}
		if got := list(bob, "?filter=views%20%3E%2010"); !slices.Equal(got, []string{"pub 50"}) {
			t.Errorf("bob's views > 10 = %v", got)
		}
		if got := list(ann, "?filter=views%20%3E%2010&sort=-views"); !slices.Equal(got, []string{"draft 500", "pub 50"}) {
			t.Errorf("ann's views > 10 = %v", got)
		}
		bad := r.call("GET", "/v1/collections/posts/records?filter=views%20%3E%3E%201", nil, bob).expect(t, 400, "content.invalid_filter")
		if !strings.Contains(bad.str("detail"), "position") {
			t.Errorf("an invalid filter should name its position: %s", bad.Raw)
		}
		r.call("GET", "/v1/collections/posts/records?filter=nope%20%3D%201", nil, bob).expect(t, 400, "content.invalid_filter")

		r.call("PATCH", "/v1/collections/posts", map[string]any{"rules": map[string]any{"list": nil}}, c.admin).expect(t, 200, "")
		r.call("GET", "/v1/collections/posts/records", nil, ann).expect(t, 403, "content.forbidden")
		if got := list(c.admin, ""); len(got) != 3 {
			t.Errorf("the admin sees %v", got)
		}
	})
}

// TestListPaging pages keyset and by number, with totalItems only when
// asked.
func TestListPaging(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "items", "fields": [{"name": "n", "type": "number"}], "rules": {"list": "", "view": "", "create": ""}}`)
		for i := range 5 {
			r.create("items", user0, map[string]any{"n": i})
		}
		first := r.call("GET", "/v1/collections/items/records?limit=2&sort=n", nil, user0).expect(t, 200, "")
		if len(first.items()) != 2 || first.str("nextCursor") == "" {
			t.Fatalf("first page = %s", first.Raw)
		}
		second := r.call("GET", "/v1/collections/items/records?limit=2&sort=n&cursor="+first.str("nextCursor"), nil, user0).expect(t, 200, "")
		if n := second.items()[0]["n"]; n != float64(2) {
			t.Errorf("second page starts at %v", n)
		}
		paged := r.call("GET", "/v1/collections/items/records?page=2&perPage=2&sort=n", nil, user0).expect(t, 200, "")
		if paged.Body["page"] != float64(2) || paged.Body["perPage"] != float64(2) || paged.Body["totalItems"] != nil {
			t.Errorf("page 2 = %s", paged.Raw)
		}
		counted := r.call("GET", "/v1/collections/items/records?page=1&perPage=2&count=true", nil, user0).expect(t, 200, "")
		if counted.Body["totalItems"] != float64(5) {
			t.Errorf("counted = %s", counted.Raw)
		}
		proj := r.call("GET", "/v1/collections/items/records?fields=n&limit=1", nil, user0).expect(t, 200, "")
		if it := proj.items()[0]; it["id"] == nil || it["created"] != nil {
			t.Errorf("projection = %s", proj.Raw)
		}
	})
}

// TestAdminFilterKnowsTheAdmin: an admin's filter reads @request.auth as
// the admin (as realtime does), not as an anonymous caller.
func TestAdminFilterKnowsTheAdmin(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "memos", "fields": [{"name": "text", "type": "text"}, {"name": "owner", "type": "owner"}],
		  "rules": {"list": null, "view": null, "create": null}}`)
		mine := r.create("memos", c.admin, map[string]any{"text": "mine"})
		r.create("memos", c.tokens.mint([]string{"admin"}, []string{"admin"}), map[string]any{"text": "another admin's"})
		list := r.call("GET", "/v1/collections/memos/records?filter="+url.QueryEscape("owner = @request.auth.id"), nil, c.admin).
			expect(t, 200, "")
		if items := list.items(); len(items) != 1 || items[0]["id"] != mine.str("id") {
			t.Fatalf("an admin's filter on their own id listed %d records: %s", len(items), list.Raw)
		}
	})
}
