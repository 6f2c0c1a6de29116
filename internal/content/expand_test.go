package content_test

import (
	"testing"
)

// TestExpand adds related records under "expand" (ids stay), nested one
// level down, each only when its collection's view rule admits it: a
// hidden author is simply absent, and a multi relation lists the visible
// ones in order.
func TestExpand(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "companies", "fields": [{"name": "name", "type": "text"}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		c.collection(r, `{"name": "people", "fields": [{"name": "name", "type": "text"}, {"name": "public", "type": "bool"},
		    {"name": "company", "type": "relation", "collection": "companies"}],
		  "rules": {"list": "public = true", "view": "public = true", "create": ""}}`)
		c.collection(r, `{"name": "tags", "fields": [{"name": "name", "type": "text"}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		c.collection(r, `{"name": "stories", "fields": [{"name": "title", "type": "text"},
		    {"name": "author", "type": "relation", "collection": "people"},
		    {"name": "tags", "type": "relation", "collection": "tags", "multi": true}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		acme := r.create("companies", user0, map[string]any{"name": "Acme"})
		ann := r.create("people", user0, map[string]any{"name": "Ann", "public": true, "company": acme.str("id")})
		hidden := r.create("people", user0, map[string]any{"name": "Secret", "public": false})
		t1 := r.create("tags", user0, map[string]any{"name": "go"})
		t2 := r.create("tags", user0, map[string]any{"name": "db"})
		s1 := r.create("stories", user0, map[string]any{"title": "by ann", "author": ann.str("id"),
			"tags": []any{t2.str("id"), t1.str("id")}})
		// Only a caller who may view the hidden author may name it.
		s2 := r.create("stories", c.admin, map[string]any{"title": "by secret", "author": hidden.str("id")})

		list := r.call("GET", "/v1/collections/stories/records?sort=title&expand=author,tags,author.company", nil, user0).expect(t, 200, "")
		items := list.items()
		if len(items) != 2 {
			t.Fatalf("list = %s", list.Raw)
		}
		byAnn, bySecret := items[0], items[1]
		if byAnn["author"] != ann.str("id") {
			t.Errorf("the relation value must stay the id: %v", byAnn["author"])
		}
		ex, _ := byAnn["expand"].(map[string]any)
		author, _ := ex["author"].(map[string]any)
		if author["name"] != "Ann" {
			t.Fatalf("expanded author = %v (%s)", ex, list.Raw)
		}
		company, _ := author["expand"].(map[string]any)["company"].(map[string]any)
		if company["name"] != "Acme" {
			t.Errorf("nested author.company = %v", author["expand"])
		}
		tags, _ := ex["tags"].([]any)
		if len(tags) != 2 || tags[0].(map[string]any)["name"] != "db" || tags[1].(map[string]any)["name"] != "go" {
			t.Errorf("expanded tags = %v", ex["tags"])
		}
		if bySecret["author"] != hidden.str("id") {
			t.Errorf("the hidden author's id stays: %v", bySecret["author"])
		}
		if ex2, _ := bySecret["expand"].(map[string]any); ex2["author"] != nil {
			t.Errorf("a record the view rule hides was expanded: %v", ex2)
		}
		// An admin sees it; a single view expands too.
		one := r.call("GET", "/v1/collections/stories/records/"+s2.str("id")+"?expand=author", nil, c.admin).expect(t, 200, "")
		if a := one.Body["expand"].(map[string]any)["author"].(map[string]any); a["name"] != "Secret" {
			t.Errorf("admin view expand = %s", one.Raw)
		}
		// fields= without the relation still expands it, without showing it.
		proj := r.call("GET", "/v1/collections/stories/records/"+s1.str("id")+"?expand=author", nil, user0).expect(t, 200, "")
		if proj.Body["expand"] == nil {
			t.Errorf("view with expand = %s", proj.Raw)
		}
		pl := r.call("GET", "/v1/collections/stories/records?fields=title&expand=author&sort=title", nil, user0).expect(t, 200, "")
		if it := pl.items()[0]; it["author"] != nil || it["expand"] == nil {
			t.Errorf("fields=title&expand=author = %s", pl.Raw)
		}
		r.call("GET", "/v1/collections/stories/records?expand=title", nil, user0).expect(t, 400, "content.invalid_expand")
		r.call("GET", "/v1/collections/stories/records?expand=nope", nil, user0).expect(t, 400, "content.invalid_expand")
	})
}
