package content_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/content"
)

const collectionsYAML = `collections:
  - name: posts
    fields:
      - {name: title, type: text, required: true}
      - {name: author, type: relation, collection: people}
    rules: {list: "", view: ""}
  - name: people
    fields:
      - {name: name, type: text}
`

// TestCollectionsFile applies a declarative file: collections created in
// any order (a relation before its target), nothing changed when applied
// again, a changed definition updated, and nothing dropped — neither a
// collection the file no longer lists nor a field it leaves out.
func TestCollectionsFile(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "collections.yaml")
		write := func(s string) {
			t.Helper()
			if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		apply := func() content.ApplyResult {
			t.Helper()
			defs, err := content.ReadCollectionsFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.svc.ApplyCollections(ctx, defs)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		write(collectionsYAML)
		res := apply()
		slices.Sort(res.Created)
		if !slices.Equal(res.Created, []string{"people", "posts"}) || len(res.Updated) != 0 {
			t.Fatalf("first apply = %+v", res)
		}
		before := r.call("GET", "/v1/collections/posts", nil, c.admin).expect(t, 200, "")
		if res := apply(); len(res.Unchanged) != 2 || len(res.Created)+len(res.Updated) != 0 {
			t.Errorf("second apply = %+v, want nothing changed", res)
		}
		if again := r.call("GET", "/v1/collections/posts", nil, c.admin).expect(t, 200, ""); again.Body["version"] != before.Body["version"] {
			t.Errorf("an unchanged apply bumped the version: %v → %v", before.Body["version"], again.Body["version"])
		}
		kept := r.call("POST", "/v1/collections/posts/records", map[string]any{"title": "kept"}, c.admin).expect(t, 201, "")

		// A new field and rule; people and posts.author left out.
		write(`[{"name": "posts", "fields": [{"name": "title", "type": "text", "required": true},
		  {"name": "body", "type": "text"}], "rules": {"list": "", "view": "", "create": ""}}]`)
		if res := apply(); !slices.Equal(res.Updated, []string{"posts"}) {
			t.Errorf("apply of a change = %+v", res)
		}
		got := r.call("GET", "/v1/collections/posts", nil, c.admin).expect(t, 200, "")
		var names []string
		for _, f := range got.Body["fields"].([]any) {
			names = append(names, f.(map[string]any)["name"].(string))
		}
		if !slices.Equal(names, []string{"title", "body", "author"}) {
			t.Errorf("fields after the change = %v (author must be kept)", names)
		}
		r.call("GET", "/v1/collections/people", nil, c.admin).expect(t, 200, "")
		if rec := r.call("GET", "/v1/collections/posts/records/"+kept.str("id"), nil, user0).expect(t, 200, ""); rec.Body["title"] != "kept" {
			t.Errorf("data after the change = %s", rec.Raw)
		}

		write("- name: Bad\n  fields: []\n")
		defs, err := content.ReadCollectionsFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.ApplyCollections(ctx, defs); err == nil {
			t.Error("an invalid definition was applied")
		}
		write("collections:\n  - name: x\n    color: blue\n")
		if _, err := content.ReadCollectionsFile(path); err == nil {
			t.Error("an unknown key was accepted")
		}
	})
}
