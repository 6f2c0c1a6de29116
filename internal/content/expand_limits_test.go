package content_test

import (
	"fmt"
	"testing"

	"github.com/bamhq/bam/internal/content"
)

// TestExpandLimits: expand shows at most 100 related records per record
// and path (the first ones of the relation) and 1,000 per response, and
// says so in the Expand-Truncated header when it left some out.
func TestExpandLimits(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "tags", "fields": [{"name": "n", "type": "number"}], "rules": {"list": "", "view": "", "create": ""}}`)
		c.collection(r, `{"name": "boards", "fields": [{"name": "title", "type": "text"},
		    {"name": "tags", "type": "relation", "collection": "tags", "multi": true}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		tags := func(n int) []any {
			var ids []any
			for len(ids) < n {
				var ops []any
				for range min(100, n-len(ids)) {
					ops = append(ops, map[string]any{"method": "POST", "collection": "tags", "body": map[string]any{"n": len(ids)}})
				}
				res := r.call("POST", "/v1/collections/batch", map[string]any{"requests": ops}, user0).expect(t, 200, "")
				for _, x := range res.Body["responses"].([]any) {
					ids = append(ids, x.(map[string]any)["body"].(map[string]any)["id"])
				}
			}
			return ids
		}
		big := r.create("boards", user0, map[string]any{"title": "big", "tags": tags(150)})
		one := r.call("GET", "/v1/collections/boards/records/"+big.str("id")+"?expand=tags", nil, user0).expect(t, 200, "")
		got, _ := one.Body["expand"].(map[string]any)["tags"].([]any)
		if len(got) != 100 || got[0].(map[string]any)["id"] != big.Body["tags"].([]any)[0] {
			t.Errorf("expanded %d tags of 150, want the first 100", len(got))
		}
		if one.Header.Get(content.ExpandTruncatedHeader) != "true" {
			t.Errorf("a truncated expansion is not marked: %v", one.Header)
		}
		small := r.create("boards", user0, map[string]any{"title": "small", "tags": tags(3)})
		if h := r.call("GET", "/v1/collections/boards/records/"+small.str("id")+"?expand=tags", nil, user0).
			expect(t, 200, "").Header.Get(content.ExpandTruncatedHeader); h != "" {
			t.Errorf("a whole expansion is marked truncated: %q", h)
		}

		for i := range 9 {
			r.create("boards", user0, map[string]any{"title": fmt.Sprint("b", i), "tags": tags(100)})
		}
		list := r.call("GET", "/v1/collections/boards/records?limit=100&expand=tags", nil, user0).expect(t, 200, "")
		total := 0
		for _, it := range list.items() {
			if ex, ok := it["expand"].(map[string]any); ok {
				l, _ := ex["tags"].([]any)
				total += len(l)
			}
		}
		if total != 1000 || list.Header.Get(content.ExpandTruncatedHeader) != "true" {
			t.Errorf("a list reaching 1,003 tags expanded %d (header %q), want 1,000, marked", total,
				list.Header.Get(content.ExpandTruncatedHeader))
		}
	})
}
