package schema_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// valid returns a copy of allTypes("posts") after validation (defaults
// filled).
func valid(t *testing.T) *schema.Collection {
	t.Helper()
	c := allTypes("posts")
	if err := c.Validate(nil); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	c := valid(t)
	tests := []struct {
		name  string
		input map[string]any
		mode  schema.Mode
		want  map[string]string // field path → message fragment
	}{
		{"required missing on create", map[string]any{}, schema.Create, map[string]string{"title": "is required"}},
		{"required null on patch", map[string]any{"title": nil}, schema.Patch, map[string]string{"title": "is required"}},
		{"required empty on replace", map[string]any{"title": ""}, schema.Replace, map[string]string{"title": "is required"}},
		{"text too long", map[string]any{"title": strings.Repeat("é", 201)}, schema.Patch, map[string]string{"title": "must be at most 200 characters"}},
		{"text default cap", map[string]any{"body": strings.Repeat("x", schema.DefaultTextMax+1)}, schema.Patch, map[string]string{"body": "at most 100000"}},
		{"text with NUL", map[string]any{"body": "a\x00b"}, schema.Patch, map[string]string{"body": "NUL"}},
		{"pattern", map[string]any{"code": "ABC-12x"}, schema.Patch, map[string]string{"code": "does not match"}},
		{"text not a string", map[string]any{"body": 3.0}, schema.Patch, map[string]string{"body": "must be a string"}},
		{"integer", map[string]any{"views": 1.5}, schema.Patch, map[string]string{"views": "whole number"}},
		{"integer below min", map[string]any{"views": -1.0}, schema.Patch, map[string]string{"views": "at least 0"}},
		{"unsafe integer", map[string]any{"views": 1e17}, schema.Patch, map[string]string{"views": "between"}},
		{"number above max", map[string]any{"score": 2.0}, schema.Patch, map[string]string{"score": "at most 1.5"}},
		{"number as string", map[string]any{"score": "1"}, schema.Patch, map[string]string{"score": "must be a number"}},
		{"bool as number", map[string]any{"published": 1.0}, schema.Patch, map[string]string{"published": "true or false"}},
		{"bad date", map[string]any{"due": "tomorrow"}, schema.Patch, map[string]string{"due": "not a date"}},
		{"year 10000", map[string]any{"due": "10000-01-01T00:00:00Z"}, schema.Patch, map[string]string{"due": "not a date"}},
		{"bad email", map[string]any{"email": "ann at example.com"}, schema.Patch, map[string]string{"email": "not an email address"}},
		{"email with name", map[string]any{"email": "Ann <ann@example.com>"}, schema.Patch, map[string]string{"email": "not an email address"}},
		{"relative url", map[string]any{"site": "/home"}, schema.Patch, map[string]string{"site": "absolute http"}},
		{"ftp url", map[string]any{"site": "ftp://example.com/x"}, schema.Patch, map[string]string{"site": "absolute http"}},
		{"javascript url", map[string]any{"site": "javascript:alert(1)"}, schema.Patch, map[string]string{"site": "absolute http"}},
		{"select value", map[string]any{"status": "gone"}, schema.Patch, map[string]string{"status": "must be one of draft, published"}},
		{"multi not a list", map[string]any{"tags": "go"}, schema.Patch, map[string]string{"tags": "must be a list"}},
		{"multi element", map[string]any{"tags": []any{"go", "rust"}}, schema.Patch, map[string]string{"tags[1]": "must be one of go, sql, web"}},
		{"multi null element", map[string]any{"files": []any{"a", nil}}, schema.Patch, map[string]string{"files[1]": "must not be null"}},
		{"multi too many", map[string]any{"tags": []any{"go", "sql", "web"}}, schema.Patch, map[string]string{"tags": "at most 2 elements"}},
		{"json too large", map[string]any{"meta": strings.Repeat("x", schema.MaxJSONBytes)}, schema.Patch, map[string]string{"meta": "at most 65536 bytes"}},
		{"json too deep", map[string]any{"meta": nested(schema.MaxJSONDepth + 1)}, schema.Patch, map[string]string{"meta": "at most 64 deep"}},
		{"json too deep, objects", map[string]any{"meta": map[string]any{"a": []any{nested(schema.MaxJSONDepth - 1)}}}, schema.Patch,
			map[string]string{"meta": "at most 64 deep"}},
		{"json with NUL", map[string]any{"meta": map[string]any{"a": "\x00"}}, schema.Patch, map[string]string{"meta": "NUL"}},
		{"relation not a string", map[string]any{"parent": 5.0}, schema.Patch, map[string]string{"parent": "must be a string"}},
		{"owner in input", map[string]any{"author": "u9"}, schema.Patch, map[string]string{"author": "set by the server"}},
		{"system field", map[string]any{"id": "x", "version": 3.0}, schema.Patch, map[string]string{"id": "set by the server", "version": "set by the server"}},
		{"unknown field", map[string]any{"nope": 1.0}, schema.Patch, map[string]string{"nope": "no such field"}},
		{"every failure at once", map[string]any{"title": nil, "views": "x", "status": "gone", "nope": true}, schema.Create,
			map[string]string{"title": "is required", "views": "must be a number", "status": "must be one of", "nope": "no such field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Encode(tt.input, tt.mode, "u1", store.SQLite)
			e := errs.As(err)
			if e == nil || e.Code != schema.CodeValidation || e.Kind != errs.Invalid {
				t.Fatalf("Encode = %v, want a validation error", err)
			}
			got := map[string]string{}
			for _, f := range e.Fields {
				got[f.Field] = f.Message
			}
			if len(got) != len(tt.want) {
				t.Errorf("fields %v, want %v", got, tt.want)
			}
			for path, frag := range tt.want {
				if !strings.Contains(got[path], frag) {
					t.Errorf("%s: %q, want it to say %q (all: %v)", path, got[path], frag, got)
				}
			}
		})
	}
}

func TestEncodeModes(t *testing.T) {
	t.Parallel()
	c := valid(t)
	cols, err := c.Encode(map[string]any{"title": "t", "tags": []any{"go", "go", "sql"}, "body": ""}, schema.Create, "u1", store.SQLite)
	if err != nil {
		t.Fatal(describe(err))
	}
	if len(cols) != len(c.Fields) {
		t.Errorf("create sets %d columns, want every field (%d)", len(cols), len(c.Fields))
	}
	if cols["author"] != "u1" || cols["body"] != nil || cols["tags"] != `["go","sql"]` {
		t.Errorf("create: author %v, body %v, tags %v", cols["author"], cols["body"], cols["tags"])
	}
	owned := schema.Collection{Name: "o", Fields: []schema.Field{{Name: "by", Type: schema.Owner, Required: true}}}
	if _, err := owned.Encode(map[string]any{}, schema.Create, "", store.SQLite); !slices.Equal(fieldErrors(t, err), []string{"by: required"}) {
		t.Errorf("required owner without a creator: %v", err)
	}
	if cols, err := owned.Encode(map[string]any{}, schema.Create, "u7", store.Postgres); err != nil || cols["by"] != "u7" {
		t.Errorf("required owner = %v, %v", cols, err)
	}
	cols, err = c.Encode(map[string]any{"views": 3.0}, schema.Patch, "u1", store.SQLite)
	if err != nil || !reflect.DeepEqual(cols, map[string]any{"views": int64(3)}) {
		t.Errorf("patch = %v, %v; want only views", cols, err)
	}
	cols, err = c.Encode(map[string]any{"title": "x"}, schema.Replace, "u1", store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cols["author"]; ok || len(cols) != len(c.Fields)-1 {
		t.Errorf("replace sets %v: want every field but the owner", slices.Sorted(func(yield func(string) bool) {
			for k := range cols {
				if !yield(k) {
					return
				}
			}
		}))
	}
}

// TestRoundTrip stores every type through Encode and reads it back through
// Decode, on both dialects.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		posts := e.create(allTypes("posts"))
		input := map[string]any{
			"title":     "Ünïcode title ✓",
			"body":      "line 1\nline 2 'quoted' \"double\" -- ; DROP TABLE x",
			"code":      "ABC-42",
			"views":     json.Number("9007199254740991"),
			"score":     -1.25,
			"published": true,
			"due":       "2026-03-04T05:06:07.891234+02:00",
			"email":     "ann@example.com",
			"site":      "https://example.com/a?b=c#d",
			"status":    "published",
			"tags":      []any{"sql", "go", "sql"},
			"meta":      map[string]any{"n": 1.5, "list": []any{"a", nil, true}, "nested": map[string]any{"k": `\u0000 is text`}},
			"related":   []any{"id1", "id2"},
			"cover":     "files/a.png",
			"files":     []any{"x", "y"},
		}
		id := e.insert(posts, input, "user-1")
		id2 := e.insert(posts, map[string]any{"title": "Minimal", "published": false, "meta": "just a string", "parent": id}, "")
		got := e.read(posts, id)
		want := map[string]any{
			"title":     "Ünïcode title ✓",
			"body":      input["body"],
			"code":      "ABC-42",
			"views":     9007199254740991.0,
			"score":     -1.25,
			"published": true,
			"due":       "2026-03-04T03:06:07.891Z",
			"email":     "ann@example.com",
			"site":      "https://example.com/a?b=c#d",
			"status":    "published",
			"tags":      []any{"sql", "go"},
			"meta":      input["meta"],
			"parent":    nil,
			"related":   []any{"id1", "id2"},
			"cover":     "files/a.png",
			"files":     []any{"x", "y"},
			"author":    "user-1",
			"id":        id,
			"version":   1.0,
		}
		for k, w := range want {
			if !reflect.DeepEqual(got[k], w) {
				t.Errorf("%s = %#v, want %#v", k, got[k], w)
			}
		}
		for _, k := range []string{"created", "updated"} {
			if s, _ := got[k].(string); len(s) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s = %v, want DateLayout", k, got[k])
			}
		}
		got = e.read(posts, id2)
		if got["published"] != false || got["meta"] != "just a string" || got["parent"] != id || got["tags"] != nil || got["author"] != nil || got["due"] != nil {
			t.Errorf("minimal record = %v", got)
		}
		// Date-only input is midnight UTC.
		id3 := e.insert(posts, map[string]any{"title": "d", "due": "2026-01-02"}, "")
		if got := e.read(posts, id3)["due"]; got != "2026-01-02T00:00:00.000Z" {
			t.Errorf("date-only = %v", got)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	c := valid(t)
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"nope", "x"}, {"views", "text"}, {"published", "yes"}, {"due", "not a date"}, {"meta", "{bad json"}, {"title", 5.0},
	} {
		if _, err := c.Decode(tc.name, tc.v); err == nil {
			t.Errorf("Decode(%s, %#v) succeeded", tc.name, tc.v)
		}
	}
	if v, err := c.Decode("published", int64(0)); err != nil || v != false {
		t.Errorf("Decode SQLite bool = %v, %v", v, err)
	}
	if v, err := c.Decode("meta", []byte(`{"a":[1]}`)); err != nil || !reflect.DeepEqual(v, map[string]any{"a": []any{1.0}}) {
		t.Errorf("Decode jsonb bytes = %v, %v", v, err)
	}
	if got := c.Columns(); !slices.Equal(got[:4], schema.SystemFields) || len(got) != 4+len(c.Fields) || got[4] != "title" {
		t.Errorf("Columns = %v", got)
	}
}

// TestEncodeNFC: text is stored in one spelling, so that equality (and
// unique) compares what a reader sees.
func TestEncodeNFC(t *testing.T) {
	t.Parallel()
	c := schema.Collection{Name: "n", Fields: []schema.Field{
		{Name: "title", Type: schema.Text, Max: ptr(4.0)},
		{Name: "mood", Type: schema.Select, Values: []string{"café", "nai\u0308ve"}},
		{Name: "moods", Type: schema.Select, Multi: true, Values: []string{"café", "thé"}},
		{Name: "email", Type: schema.Email},
		{Name: "ref", Type: schema.Relation, Collection: "n"},
	}}
	if err := c.Validate(nil); err != nil {
		t.Fatal(describe(err))
	}
	cols, err := c.Encode(map[string]any{
		"title": "cafe\u0301", // 5 code points, 4 characters in NFC
		"mood":  "naïve",      // declared decomposed, given composed
		"moods": []any{"cafe\u0301", "café", "the\u0301"},
		"email": "jose\u0301@example.com",
		"ref":   "cafe\u0301",
	}, schema.Create, "", store.Postgres)
	if err != nil {
		t.Fatal(describe(err))
	}
	want := map[string]any{"title": "café", "mood": "naïve", "moods": `["café","thé"]`, "email": "josé@example.com", "ref": "cafe\u0301"}
	if !reflect.DeepEqual(cols, want) {
		t.Errorf("Encode = %q, want %q", cols, want)
	}
	if _, err := c.Encode(map[string]any{"mood": "nai\u0308ve"}, schema.Patch, "", store.SQLite); err != nil {
		t.Errorf("a select value as declared: %v", err)
	}
}
