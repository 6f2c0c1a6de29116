package schema_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
)

// allTypes is a definition using every field type and option.
func allTypes(name string) schema.Collection {
	return schema.Collection{
		Name: name,
		Fields: []schema.Field{
			{Name: "title", Type: schema.Text, Required: true, Max: ptr(200.0), Searchable: true},
			{Name: "body", Type: schema.Text, Searchable: true},
			{Name: "code", Type: schema.Text, Pattern: `[A-Z]{3}-[0-9]+`, Unique: true},
			{Name: "views", Type: schema.Number, Integer: true, Min: ptr(0.0)},
			{Name: "score", Type: schema.Number, Min: ptr(-1.5), Max: ptr(1.5)},
			{Name: "published", Type: schema.Bool},
			{Name: "due", Type: schema.Date},
			{Name: "email", Type: schema.Email},
			{Name: "site", Type: schema.URL},
			{Name: "status", Type: schema.Select, Values: []string{"draft", "published"}},
			{Name: "tags", Type: schema.Select, Multi: true, Values: []string{"go", "sql", "web"}, Max: ptr(2.0)},
			{Name: "meta", Type: schema.JSON},
			{Name: "parent", Type: schema.Relation, Collection: name, OnDelete: schema.SetNull},
			{Name: "related", Type: schema.Relation, Collection: name, Multi: true},
			{Name: "cover", Type: schema.File},
			{Name: "files", Type: schema.File, Multi: true},
			{Name: "author", Type: schema.Owner},
		},
		Indexes: [][]string{{"published", "views"}, {"status", "created"}},
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	users := &schema.Collection{Name: "users", Fields: []schema.Field{{Name: "name", Type: schema.Text}}}
	others := schema.NewSnapshot(users)
	tests := map[string]schema.Collection{
		"every type": allTypes("posts"),
		"no fields":  {Name: "empty"},
		"relation to another": {Name: "posts", Fields: []schema.Field{
			{Name: "writer", Type: schema.Relation, Collection: "users", OnDelete: schema.Cascade, Required: true}}},
		"keyword-like names that work unquoted": {Name: "order", Fields: []schema.Field{
			{Name: "name", Type: schema.Text}, {Name: "type", Type: schema.Text}, {Name: "key", Type: schema.Text},
			{Name: "value", Type: schema.Number}, {Name: "date", Type: schema.Date}, {Name: "first", Type: schema.Text}}},
		"longest name": {Name: "a" + strings.Repeat("b", 47)},
		"index on system fields": {Name: "logs", Fields: []schema.Field{{Name: "level", Type: schema.Text}},
			Indexes: [][]string{{"level", "created"}, {"updated"}}},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			if err := c.Validate(others); err != nil {
				t.Fatalf("Validate: %s", describe(err))
			}
		})
	}
	c := allTypes("posts")
	if err := c.Validate(others); err != nil {
		t.Fatal(err)
	}
	if c.OnUserDeleted != schema.DeleteOwned || c.Fields[13].OnDelete != schema.Restrict {
		t.Errorf("defaults not filled: onUserDeleted %q, onDelete %q", c.OnUserDeleted, c.Fields[13].OnDelete)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	others := schema.NewSnapshot(&schema.Collection{Name: "users"})
	text := func(f schema.Field) schema.Field { f.Name, f.Type = "f", schema.Text; return f }
	one := func(fs ...schema.Field) schema.Collection { return schema.Collection{Name: "posts", Fields: fs} }
	many := make([]schema.Field, schema.MaxFields+1)
	for i := range many {
		many[i] = schema.Field{Name: fmt.Sprintf("f%d", i), Type: schema.Bool}
	}
	values := make([]string, schema.MaxSelectValues+1)
	for i := range values {
		values[i] = fmt.Sprint("v", i)
	}
	nine := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	var nineFields []schema.Field
	for _, n := range nine {
		nineFields = append(nineFields, schema.Field{Name: n, Type: schema.Text})
	}
	withRules := func(r schema.Rules) schema.Collection {
		c := one(schema.Field{Name: "title", Type: schema.Text})
		c.Rules = r
		return c
	}
	tests := []struct {
		name string
		c    schema.Collection
		want []string // "path: code", in order
	}{
		{"no name", schema.Collection{}, []string{"name: required"}},
		{"upper-case name", schema.Collection{Name: "Posts"}, []string{"name: invalid"}},
		{"name with dash", schema.Collection{Name: "my-posts"}, []string{"name: invalid"}},
		{"name too long", schema.Collection{Name: "a" + strings.Repeat("b", 48)}, []string{"name: invalid"}},
		{"name of a search table", schema.Collection{Name: "posts_fts"}, []string{"name: invalid"}},
		{"field without name", one(schema.Field{Type: schema.Text}), []string{"fields[0].name: required"}},
		{"field name with capital", one(schema.Field{Name: "Title", Type: schema.Text}), []string{"fields[0].name: invalid"}},
		{"field name starting with _", one(schema.Field{Name: "_rid", Type: schema.Text}), []string{"fields[0].name: invalid"}},
		{"system field name", one(schema.Field{Name: "created", Type: schema.Date}), []string{"fields[0].name: reserved"}},
		{"keyword field name", one(schema.Field{Name: "order", Type: schema.Number}), []string{"fields[0].name: reserved"}},
		{"searchable field named rank", one(schema.Field{Name: "rank", Type: schema.Text, Searchable: true}), []string{"fields[0].name: reserved"}},
		{"searchable field named as the index", one(schema.Field{Name: "c_posts_fts", Type: schema.Text, Searchable: true}), []string{"fields[0].name: reserved"}},
		{"duplicate field", one(schema.Field{Name: "a", Type: schema.Text}, schema.Field{Name: "a", Type: schema.Bool}), []string{"fields[1].name: duplicate"}},
		{"no type", one(schema.Field{Name: "a"}), []string{"fields[0].type: required"}},
		{"unknown type", one(schema.Field{Name: "a", Type: "string"}), []string{"fields[0].type: invalid"}},
		{"too many fields", one(many...), []string{"fields: too_many"}},
		{"min on bool", one(schema.Field{Name: "a", Type: schema.Bool, Min: ptr(1.0)}), []string{"fields[0].min: not_applicable"}},
		{"max on date", one(schema.Field{Name: "a", Type: schema.Date, Max: ptr(1.0)}), []string{"fields[0].max: not_applicable"}},
		{"pattern on number", one(schema.Field{Name: "a", Type: schema.Number, Pattern: "x"}), []string{"fields[0].pattern: not_applicable"}},
		{"integer on text", one(text(schema.Field{Integer: true})), []string{"fields[0].integer: not_applicable"}},
		{"values on text", one(text(schema.Field{Values: []string{"a"}})), []string{"fields[0].values: not_applicable"}},
		{"multi on text", one(text(schema.Field{Multi: true})), []string{"fields[0].multi: not_applicable"}},
		{"collection on text", one(text(schema.Field{Collection: "users"})), []string{"fields[0].collection: not_applicable"}},
		{"onDelete on text", one(text(schema.Field{OnDelete: "cascade"})), []string{"fields[0].onDelete: not_applicable"}},
		{"searchable number", one(schema.Field{Name: "a", Type: schema.Number, Searchable: true}), []string{"fields[0].searchable: not_applicable"}},
		{"searchable multi select", one(schema.Field{Name: "a", Type: schema.Select, Multi: true, Values: []string{"x"}, Searchable: true}), []string{"fields[0].searchable: not_applicable"}},
		{"unique json", one(schema.Field{Name: "a", Type: schema.JSON, Unique: true}), []string{"fields[0].unique: not_applicable"}},
		{"unique multi relation", one(schema.Field{Name: "a", Type: schema.Relation, Collection: "users", Multi: true, Unique: true}), []string{"fields[0].unique: not_applicable"}},
		{"negative length", one(text(schema.Field{Min: ptr(-1.0)})), []string{"fields[0].min: invalid"}},
		{"fractional length", one(text(schema.Field{Max: ptr(1.5)})), []string{"fields[0].max: invalid"}},
		{"huge text max", one(text(schema.Field{Max: ptr(schema.MaxTextMax + 1.0)})), []string{"fields[0].max: too_large"}},
		{"min above max", one(schema.Field{Name: "a", Type: schema.Number, Min: ptr(5.0), Max: ptr(1.0)}), []string{"fields[0].max: invalid"}},
		{"fractional bound of integer", one(schema.Field{Name: "a", Type: schema.Number, Integer: true, Min: ptr(0.5)}), []string{"fields[0].min: invalid"}},
		{"huge list max", one(schema.Field{Name: "a", Type: schema.File, Multi: true, Max: ptr(5000.0)}), []string{"fields[0].max: too_large"}},
		{"bad pattern", one(text(schema.Field{Pattern: "(a"})), []string{"fields[0].pattern: invalid"}},
		{"Perl-only pattern", one(text(schema.Field{Pattern: `(?=a)`})), []string{"fields[0].pattern: invalid"}},
		{"select without values", one(schema.Field{Name: "a", Type: schema.Select}), []string{"fields[0].values: required"}},
		{"select with too many values", one(schema.Field{Name: "a", Type: schema.Select, Values: values}), []string{"fields[0].values: too_many"}},
		{"select duplicate value", one(schema.Field{Name: "a", Type: schema.Select, Values: []string{"x", "y", "x"}}), []string{"fields[0].values[2]: duplicate"}},
		{"select empty value", one(schema.Field{Name: "a", Type: schema.Select, Values: []string{""}}), []string{"fields[0].values[0]: required"}},
		{"relation without target", one(schema.Field{Name: "a", Type: schema.Relation}), []string{"fields[0].collection: required"}},
		{"relation to nothing", one(schema.Field{Name: "a", Type: schema.Relation, Collection: "ghosts"}), []string{"fields[0].collection: not_found"}},
		{"unknown onDelete", one(schema.Field{Name: "a", Type: schema.Relation, Collection: "users", OnDelete: "nuke"}), []string{"fields[0].onDelete: invalid"}},
		{"required set_null", one(schema.Field{Name: "a", Type: schema.Relation, Collection: "users", OnDelete: schema.SetNull, Required: true}), []string{"fields[0].onDelete: conflict"}},
		{"index of unknown field", schema.Collection{Name: "p", Fields: []schema.Field{{Name: "a", Type: schema.Text}}, Indexes: [][]string{{"a", "b"}}}, []string{"indexes[0][1]: not_found"}},
		{"index of json", schema.Collection{Name: "p", Fields: []schema.Field{{Name: "a", Type: schema.JSON}}, Indexes: [][]string{{"a"}}}, []string{"indexes[0][0]: not_indexable"}},
		{"index of multi", schema.Collection{Name: "p", Fields: []schema.Field{{Name: "a", Type: schema.Select, Multi: true, Values: []string{"x"}}}, Indexes: [][]string{{"id", "a"}}}, []string{"indexes[0][1]: not_indexable"}},
		{"empty index", schema.Collection{Name: "p", Indexes: [][]string{{}}}, []string{"indexes[0]: required"}},
		{"index too wide", schema.Collection{Name: "p", Fields: nineFields, Indexes: [][]string{nine}}, []string{"indexes[0]: too_many"}},
		{"column twice in an index", schema.Collection{Name: "p", Indexes: [][]string{{"created", "created"}}}, []string{"indexes[0][1]: duplicate"}},
		{"same index twice", schema.Collection{Name: "p", Indexes: [][]string{{"created"}, {"created"}}}, []string{"indexes[1]: duplicate"}},
		{"unknown onUserDeleted", schema.Collection{Name: "p", OnUserDeleted: "keep"}, []string{"onUserDeleted: invalid"}},
		{"anonymize required owner", schema.Collection{Name: "p", OnUserDeleted: schema.AnonymizeOwned, Fields: []schema.Field{{Name: "o", Type: schema.Owner, Required: true}}}, []string{"fields[0].required: conflict"}},
		{"rule too long", withRules(schema.Rules{Delete: ptr(strings.Repeat("x", schema.MaxRuleLength+1))}), []string{"rules.delete: too_long"}},
		{"every problem at once", schema.Collection{Name: "Bad", Fields: []schema.Field{
			{Name: "a", Type: schema.Text, Integer: true},
			{Name: "a", Type: "nope"},
			{Name: "r", Type: schema.Relation},
		}, Indexes: [][]string{{"zz"}}}, []string{
			"name: invalid", "fields[0].integer: not_applicable", "fields[1].name: duplicate", "fields[1].type: invalid",
			"fields[2].collection: required", "indexes[0][0]: not_found",
		}},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(others)
			if err == nil {
				t.Fatalf("Validate accepted it, want %v", tt.want)
			}
			if got := fieldErrors(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("field errors:\n got %q\nwant %q\n%s", got, tt.want, describe(err))
			}
		})
	}
}

// TestValidateRules needs the expr package: rules are parsed and checked
// against the definition as it would be.
func TestValidateRules(t *testing.T) {
	t.Parallel()
	if !rulesWork() {
		t.Skip("expr.Parse is not implemented yet")
	}
	users := &schema.Collection{Name: "users", Fields: []schema.Field{{Name: "name", Type: schema.Text}}}
	others := schema.NewSnapshot(users)
	base := func(r schema.Rules) schema.Collection {
		return schema.Collection{Name: "posts", Fields: []schema.Field{
			{Name: "title", Type: schema.Text},
			{Name: "views", Type: schema.Number},
			{Name: "writer", Type: schema.Relation, Collection: "users"},
			{Name: "owner", Type: schema.Owner},
		}, Rules: r}
	}
	ok := base(schema.Rules{
		List:   ptr(`views > 10 || owner = @request.auth.id`),
		View:   ptr(""),
		Create: ptr(`@request.auth.id != null`),
		Update: ptr(`writer.name = "ann" && created > "2026-01-01"`),
	})
	if err := ok.Validate(others); err != nil {
		t.Fatalf("valid rules rejected: %s", describe(err))
	}
	bad := base(schema.Rules{
		List:   ptr(`views >`),
		View:   ptr(`nope = 1`),
		Update: ptr(`writer.nope = "x"`),
		Delete: ptr(`title = "a"`),
	})
	err := bad.Validate(others)
	if err == nil {
		t.Fatal("invalid rules accepted")
	}
	want := []string{"rules.list: invalid_rule", "rules.view: invalid_rule", "rules.update: invalid_rule"}
	if got := fieldErrors(t, err); !slices.Equal(got, want) {
		t.Errorf("field errors:\n got %q\nwant %q\n%s", got, want, describe(err))
	}
}
