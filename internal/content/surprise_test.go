package content_test

import (
	"testing"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestSchemaSurprise: a replica that missed a schema change (here it
// follows nothing) reloads the definitions when a query finds a column
// gone, and answers with the new schema instead of failing.
func TestSchemaSurprise(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dbA, dbB := sharedDB(t, d)
			b := bustest.Open(t, bustest.Embedded)
			c := newCluster(t, b)
			a, deaf := c.start(dbA, b), c.startDeaf(dbB, b)
			def := c.collection(a, openDef)
			rec := deaf.create("docs", user0, map[string]any{"title": "before"}) // deaf learns docs on first use
			titleID := def.Body["fields"].([]any)[0].(map[string]any)["id"]
			a.call("PATCH", "/v1/collections/docs", map[string]any{"fields": []any{
				map[string]any{"id": titleID, "name": "headline", "type": "text", "required": true},
				map[string]any{"name": "n", "type": "number"},
			}}, c.admin).expect(t, 200, "")
			got := deaf.call("GET", "/v1/collections/docs/records/"+rec.str("id"), nil, user0).expect(t, 200, "")
			if got.Body["headline"] != "before" {
				t.Errorf("after the surprise = %s", got.Raw)
			}
			deaf.call("POST", "/v1/collections/docs/records", map[string]any{"headline": "new"}, user0).expect(t, 201, "")
		})
	}
}
