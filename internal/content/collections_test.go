package content_test

import (
	"slices"
	"testing"
)

const postsDef = `{"name": "posts",
 "fields": [{"name": "title", "type": "text", "required": true, "max": 200, "searchable": true},
            {"name": "views", "type": "number", "integer": true},
            {"name": "published", "type": "bool"},
            {"name": "author", "type": "owner"}],
 "indexes": [["published", "views"]],
 "rules": {"list": "published = true || author = @request.auth.id",
           "view": "published = true || author = @request.auth.id",
           "create": "@request.auth.id != null",
           "update": "author = @request.auth.id", "delete": "author = @request.auth.id"}}`

// TestCollectionLifecycle manages a collection over HTTP as an admin:
// create (201, Location), read, list, change it with data kept (a field
// added, one renamed through its id, one removed, a rule changed), refuse
// invalid definitions with field errors, delete; others may not.
func TestCollectionLifecycle(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		user := c.tokens.mint(nil, nil)
		created := c.collection(r, postsDef)
		if loc := created.Header.Get("Location"); loc != r.URL+"/v1/collections/posts" {
			t.Errorf("Location = %q", loc)
		}
		if created.str("id") == "" || created.Body["version"] != float64(1) {
			t.Errorf("created = %s", created.Raw)
		}
		r.call("POST", "/v1/collections", map[string]any{"name": "x", "fields": []any{}}, user).expect(t, 403, "content.forbidden")
		r.call("GET", "/v1/collections", nil, user).expect(t, 403, "content.forbidden")
		r.call("GET", "/v1/collections", nil, user0).expect(t, 401, "")
		r.call("POST", "/v1/collections", map[string]any{"name": "posts", "fields": []any{}}, c.admin).
			expect(t, 409, "content.collection_exists")

		list := r.call("GET", "/v1/collections", nil, c.admin).expect(t, 200, "")
		if len(list.items()) != 1 || list.items()[0]["name"] != "posts" {
			t.Fatalf("collections = %s", list.Raw)
		}
		got := r.call("GET", "/v1/collections/posts", nil, c.admin).expect(t, 200, "")
		fields := got.Body["fields"].([]any)
		if len(fields) != 4 {
			t.Fatalf("fields = %v", fields)
		}

		rec := r.create("posts", user, map[string]any{"title": "kept", "views": 7, "published": true})

		// Rename title → headline (by its id), drop views, add body; the
		// title's data moves with it.
		titleID := fields[0].(map[string]any)["id"]
		patch := map[string]any{"fields": []any{
			map[string]any{"id": titleID, "name": "headline", "type": "text", "required": true, "searchable": true},
			map[string]any{"name": "published", "type": "bool"},
			map[string]any{"name": "author", "type": "owner"},
			map[string]any{"name": "body", "type": "text"},
		}, "indexes": []any{[]any{"published"}}, "rules": map[string]any{"list": ""}}
		upd := r.call("PATCH", "/v1/collections/posts", patch, c.admin).expect(t, 200, "")
		if upd.Body["version"] != float64(2) {
			t.Errorf("version after update = %v", upd.Body["version"])
		}
		rules := upd.Body["rules"].(map[string]any)
		if rules["list"] != "" || rules["view"] != "published = true || author = @request.auth.id" {
			t.Errorf("rules merged wrongly: %v", rules)
		}
		after := r.call("GET", "/v1/collections/posts/records/"+rec.str("id"), nil, user).expect(t, 200, "")
		if after.Body["headline"] != "kept" || after.Body["title"] != nil || after.Body["views"] != nil {
			t.Errorf("record after migration = %s", after.Raw)
		}

		// Invalid definitions: every failing field named.
		bad := r.call("POST", "/v1/collections", map[string]any{"name": "Bad-Name", "fields": []any{
			map[string]any{"name": "id", "type": "text"},
			map[string]any{"name": "n", "type": "nope"},
		}}, c.admin).expect(t, 400, "content.validation_failed")
		if errs, _ := bad.Body["errors"].([]any); len(errs) < 3 {
			t.Errorf("want an error per bad field (name, fields.0.name, fields.1.type): %s", bad.Raw)
		}
		r.call("PATCH", "/v1/collections/posts", map[string]any{"fields": []any{
			map[string]any{"name": "headline", "type": "number"},
		}}, c.admin).expect(t, 400, "content.validation_failed")

		r.call("DELETE", "/v1/collections/posts", nil, user).expect(t, 403, "")
		r.call("DELETE", "/v1/collections/posts", nil, c.admin).expect(t, 204, "")
		r.call("GET", "/v1/collections/posts", nil, c.admin).expect(t, 404, "")
		r.call("GET", "/v1/collections/posts/records", nil, user).expect(t, 404, "")
	})
}

// user0 is the anonymous caller.
var user0 user

// TestCollectionEvents: each change to a collection is announced in its
// transaction.
func TestCollectionEvents(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "tags", "fields": [{"name": "name", "type": "text"}]}`)
		r.call("PATCH", "/v1/collections/tags", map[string]any{"rules": map[string]any{"list": ""}}, c.admin).expect(t, 200, "")
		r.call("DELETE", "/v1/collections/tags", nil, c.admin).expect(t, 204, "")
		evs := c.events(r.bus, 3)
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type()[len("bam."+c.service+"."):]+" "+ev.Subject())
		}
		want := []string{"collection.created tags", "collection.updated tags", "collection.deleted tags"}
		if !slices.Equal(types, want) {
			t.Errorf("events = %v, want %v", types, want)
		}
	})
}

// TestCollectionPatchVersion: a patch naming a version applies only to
// it; one without applies to the current definition.
func TestCollectionPatchVersion(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "tags", "fields": [{"name": "name", "type": "text"}]}`)
		r.call("PATCH", "/v1/collections/tags", map[string]any{"version": 1, "rules": map[string]any{"list": ""}}, c.admin).expect(t, 200, "")
		r.call("PATCH", "/v1/collections/tags", map[string]any{"version": 1, "rules": map[string]any{"view": ""}}, c.admin).
			expect(t, 412, "content.precondition_failed")
		got := r.call("PATCH", "/v1/collections/tags", map[string]any{"rules": map[string]any{"view": ""}}, c.admin).expect(t, 200, "")
		if got.Body["version"] != float64(3) {
			t.Errorf("version = %v", got.Body["version"])
		}
	})
}
