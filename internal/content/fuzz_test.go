package content

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// FuzzParseIfMatch: any header parses without panicking; a version it
// yields is positive and was written in the header as a strong tag.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{"", "*", `"1"`, `W/"2"`, `"1", "2"`, `"x"`, `"-3"`, `""`, `"9223372036854775808"`, " , ,", `"1`, `"01"`, `"+1"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		m := parseIfMatch(h)
		for _, v := range m.versions {
			if v <= 0 || !slices.Contains(splitTags(h), `"`+strconv.FormatInt(v, 10)+`"`) {
				t.Fatalf("parseIfMatch(%q) gave version %d", h, v)
			}
		}
		if m.any && len(m.versions) > 0 {
			t.Fatalf("parseIfMatch(%q): * with versions", h)
		}
	})
}

// FuzzParseCollections: a collections file of any content decodes or
// fails, never panics.
func FuzzParseCollections(f *testing.F) {
	f.Add([]byte(`collections: [{name: posts, fields: [{name: title, type: text}]}]`))
	f.Add([]byte(`[{"name": "a", "fields": []}]`))
	f.Add([]byte("- name: x\n  rules: {list: null}\n"))
	f.Add([]byte(`{"collections": 3}`))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = parseCollections(raw)
	})
}

// FuzzImportLine: an import line of any content parses or fails, never
// panics; what parses keeps no system field among its values.
func FuzzImportLine(f *testing.F) {
	for _, s := range []string{`{"title": "x"}`, `{"id": "01a2245c-1c7f-7893-ac8c-3cc30e3ca654", "version": 3}`,
		`{"created": "2026-01-02T03:04:05.678Z", "owner": "u"}`, `[]`, `{"version": 1e300}`, `{"owner": 3}`} {
		f.Add(s)
	}
	im := &importer{c: &schema.Collection{Name: "items", Fields: []schema.Field{
		{Name: "title", Type: schema.Text}, {Name: "owner", Type: schema.Owner}}}, d: store.SQLite, now: time.Now()}
	f.Fuzz(func(t *testing.T, line string) {
		row, err := im.parse([]byte(line))
		if err != nil {
			return
		}
		for _, k := range []string{"id", "created", "updated", "version", "owner"} {
			if _, ok := row.values[k]; ok {
				t.Fatalf("parse(%q) left %s among the values", line, k)
			}
		}
		if row.version < 1 || row.id == "" {
			t.Fatalf("parse(%q) = version %d id %q", line, row.version, row.id)
		}
	})
}
