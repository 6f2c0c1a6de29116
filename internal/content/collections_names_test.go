package content_test

import (
	"encoding/json"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
)

// TestReservedFieldName: a field may not be named "expand", where answers
// put related records; creating or patching one in is a field error.
func TestReservedFieldName(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		bad := r.call("POST", "/v1/collections", map[string]any{"name": "things",
			"fields": []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "expand", "type": "json"}}}, c.admin).
			expect(t, 400, "content.validation_failed")
		if l, _ := bad.Body["errors"].([]any); len(l) != 1 || l[0].(map[string]any)["field"] != "fields[1].name" ||
			l[0].(map[string]any)["code"] != "reserved" {
			t.Errorf("field errors = %s", bad.Raw)
		}
		c.collection(r, `{"name": "things", "fields": [{"name": "title", "type": "text"}]}`)
		r.call("PATCH", "/v1/collections/things", map[string]any{"fields": []any{
			map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "expand", "type": "text"}}}, c.admin).
			expect(t, 400, "content.validation_failed")
	})
}

// TestMissingCollectionCode: every endpoint answers a missing collection
// with content.collection_not_found.
func TestMissingCollectionCode(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		for _, call := range []struct{ method, path string }{
			{"GET", "/v1/collections/nope"}, {"PATCH", "/v1/collections/nope"}, {"DELETE", "/v1/collections/nope"},
			{"GET", "/v1/collections/nope/records"}, {"POST", "/v1/collections/nope/records"},
		} {
			r.call(call.method, call.path, map[string]any{}, c.admin).expect(t, 404, "content.collection_not_found")
		}
		// The registry's own answer (its definitions say nothing of the
		// collection, as when another replica deleted it) is mapped too.
		var def schema.Collection
		if err := json.Unmarshal([]byte(`{"name": "nope", "fields": [{"name": "x", "type": "text"}]}`), &def); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.UpdateCollection(t.Context(), "nope", def); errs.CodeOf(err) != "content.collection_not_found" {
			t.Errorf("UpdateCollection of a missing collection: %v", err)
		}
	})
}
