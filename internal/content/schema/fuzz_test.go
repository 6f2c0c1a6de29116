package schema_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// FuzzCollectionJSON decodes a definition and validates it: no panic, and
// a definition that validates yields DDL on both dialects.
func FuzzCollectionJSON(f *testing.F) {
	seed, _ := json.Marshal(allTypes("posts"))
	f.Add(string(seed))
	f.Add(`{"name":"posts","fields":[{"name":"title","type":"text","required":true,"max":200,"searchable":true},{"name":"views","type":"number"},{"name":"published","type":"bool"},{"name":"author","type":"owner"}],"indexes":[["published","views"]],"rules":{"list":"published = true"}}`)
	f.Add(`{"name":"x","fields":[{"name":"r","type":"relation","collection":"users","multi":true,"min":1,"max":3}],"indexes":[[],["r","r"],["id"]]}`)
	f.Add(`{"name":"x","fields":[{"name":"s","type":"select","values":["a","a",""],"pattern":"(","min":-1}]}`)
	f.Add(`{"fields":null,"indexes":[["nope"]],"onUserDeleted":"anonymize"}`)
	users := &schema.Collection{Name: "users", Fields: []schema.Field{{Name: "name", Type: schema.Text}}}
	others := schema.NewSnapshot(users)
	f.Fuzz(func(t *testing.T, src string) {
		var c schema.Collection
		if json.Unmarshal([]byte(src), &c) != nil {
			return
		}
		if err := c.Validate(others); err != nil {
			return
		}
		for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
			if len(c.DDL(d)) == 0 || len(c.DropDDL(d)) == 0 {
				t.Fatal("valid definition without DDL")
			}
			_, _, _, _ = schema.SearchSQL(&c, d, src, 1)
		}
	})
}

// FuzzEncode encodes arbitrary JSON input for a collection with every
// field type: no panic, and what is accepted is a column value.
func FuzzEncode(f *testing.F) {
	f.Add(`{"title":"t","views":3,"tags":["go","go"],"due":"2026-01-02T03:04:05Z","meta":{"a":[1,null]}}`)
	f.Add(`{"title":null,"views":1e300,"score":-0,"published":"true","email":"a@b","site":"http://x","status":"draft"}`)
	f.Add(`{"tags":[null],"files":[1,2],"related":"x","parent":["a"],"author":"me","id":"x","nope":1}`)
	f.Add(`{"due":"2026-02-30","code":"ABC-1","meta":"\u0000"}`)
	c := allTypes("posts")
	if err := c.Validate(nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var input map[string]any
		if json.Unmarshal([]byte(src), &input) != nil {
			return
		}
		for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
			for _, mode := range []schema.Mode{schema.Create, schema.Patch, schema.Replace} {
				cols, err := c.Encode(input, mode, "owner", d)
				if err != nil {
					continue
				}
				for k, v := range cols {
					switch v.(type) {
					case nil, string, int64, float64, bool, time.Time:
					default:
						t.Fatalf("%s: column value %T", k, v)
					}
				}
			}
		}
	})
}
