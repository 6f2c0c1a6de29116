package expr_test

import (
	"github.com/bamhq/bam/internal/content/expr"
)

// testSchema is a small catalogue: collection → field name → field. Each
// column is named after its field; collection N lives in table c_N.
type testSchema map[string]map[string]expr.Field

func (s testSchema) Field(collection, name string) (expr.Field, bool) {
	f, ok := s[collection][name]
	return f, ok
}

func (s testSchema) Table(collection string) (string, bool) {
	_, ok := s[collection]
	return "c_" + collection, ok
}

func field(k expr.Kind) expr.Field { return expr.Field{Kind: k} }

// schema is what every test of the package runs against:
//
//	posts: title text, views number (int), rating number (float), published bool,
//	       status select, tags multi text, meta json, author → users,
//	       editors → users (multi), plus id, created, updated, version
//	users: name text, age number, friend → users, skills multi text,
//	       profile json, plus id, created
var schema = func() testSchema {
	s := testSchema{
		"posts": {
			"id": field(expr.KindText), "created": field(expr.KindDate), "updated": field(expr.KindDate),
			"version": field(expr.KindNumber), "title": field(expr.KindText), "views": field(expr.KindNumber),
			"rating": field(expr.KindNumber), "published": field(expr.KindBool), "status": field(expr.KindText),
			"tags":    {Kind: expr.KindText, Multi: true},
			"meta":    field(expr.KindJSON),
			"author":  {Kind: expr.KindText, Target: "users"},
			"editors": {Kind: expr.KindText, Multi: true, Target: "users"},
		},
		"users": {
			"id": field(expr.KindText), "created": field(expr.KindDate), "name": field(expr.KindText),
			"age":     field(expr.KindNumber),
			"friend":  {Kind: expr.KindText, Target: "users"},
			"skills":  {Kind: expr.KindText, Multi: true},
			"profile": field(expr.KindJSON),
		},
	}
	for _, fields := range s {
		for name, f := range fields {
			f.Column = name
			fields[name] = f
		}
	}
	return s
}()
