package records_test

import (
	"testing"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// people and articles: articles name an author among people, whose phone
// numbers only some callers may view.
func peopleAndArticles(e *env) (people, articles *schema.Collection) {
	people = e.collection(schema.Collection{Name: "people", Fields: []schema.Field{
		{Name: "name", Type: schema.Text}, {Name: "phone", Type: schema.Text}, {Name: "public", Type: schema.Bool}}})
	articles = e.collection(schema.Collection{Name: "articles", Fields: []schema.Field{
		{Name: "title", Type: schema.Text},
		{Name: "author", Type: schema.Relation, Collection: "people", OnDelete: schema.SetNull}}})
	return people, articles
}

// views returns an Access.Views that hides collection hidden entirely and
// shows the others through rules (collection → source, "" for all).
func (e *env) views(hidden string, rules map[string]string) func(string) (expr.Node, bool) {
	nodes := map[string]expr.Node{}
	for name, src := range rules {
		c, _ := e.reg.Get(name)
		if src != "" {
			nodes[name] = e.node(c, src)
		}
	}
	return func(collection string) (expr.Node, bool) {
		if collection == hidden {
			return nil, false
		}
		return nodes[collection], true
	}
}

// TestFilterThroughRelationIsGuarded: a filter that follows a relation
// reads only the related records the caller may view (Access.Views): a
// hidden collection's values cannot be probed, a partly visible one shows
// only its visible records; a caller without Views (trusted) reads all.
func TestFilterThroughRelationIsGuarded(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people, articles := peopleAndArticles(e)
		secret := e.insert(people, "", map[string]any{"name": "Sue", "phone": "555-0100", "public": false})
		open := e.insert(people, "", map[string]any{"name": "Pat", "phone": "555-0199", "public": true})
		a1 := e.insert(articles, "", map[string]any{"title": "by sue", "author": secret["id"]})
		a2 := e.insert(articles, "", map[string]any{"title": "by pat", "author": open["id"]})
		filter := e.node(articles, `author.phone ~ "555"`)
		list := func(acc *records.Access) []string {
			return e.listAll(articles, records.Query{Filter: filter, Access: acc, Sort: []string{"title"}})
		}
		if got := list(nil); len(got) != 2 {
			t.Errorf("trusted caller: %v, want both articles", got)
		}
		if got := list(&records.Access{Auth: auth("u1"), Views: e.views("people", nil)}); len(got) != 0 {
			t.Errorf("people hidden: %v, want nothing (the phone numbers must not be probed)", got)
		}
		partly := &records.Access{Auth: auth("u1"), Views: e.views("", map[string]string{"people": "public = true"})}
		if got := list(partly); len(got) != 1 || got[0] != a2["id"] {
			t.Errorf("only public people visible: %v, want just %s (not %s)", got, a2["id"], a1["id"])
		}
		// The negation does not reveal the hidden values either: a hidden
		// related record counts as missing.
		neg := e.node(articles, `author.phone !~ "555"`)
		got := e.listAll(articles, records.Query{Filter: neg, Access: partly})
		if len(got) != 1 || got[0] != a1["id"] {
			t.Errorf(`author.phone !~ "555" with Sue hidden: %v, want %s`, got, a1["id"])
		}
	})
}

// TestWriteRelationToHiddenRecord: a write naming, in a relation, a record
// its caller may not view fails exactly as one naming no record does.
func TestWriteRelationToHiddenRecord(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people, articles := peopleAndArticles(e)
		secret := e.insert(people, "", map[string]any{"name": "Sue", "public": false})
		open := e.insert(people, "", map[string]any{"name": "Pat", "public": true})
		partly := &records.Access{Auth: auth("u1"), Views: e.views("", map[string]string{"people": "public = true"})}
		hidden := &records.Access{Auth: auth("u1"), Views: e.views("people", nil)}
		insert := func(author string, acc *records.Access) error {
			return e.tx(func(tx *store.Tx) error {
				_, err := e.s.Insert(e.ctx, tx, articles, map[string]any{"title": "x", "author": author}, "", acc)
				return err
			})
		}
		missing := insert("01900000-0000-7000-8000-000000000000", partly)
		e1 := wantCode(t, missing, errs.Invalid, records.CodeValidation)
		for name, err := range map[string]error{
			"a record the view rule hides":    insert(secret["id"].(string), partly),
			"a record of a hidden collection": insert(open["id"].(string), hidden),
		} {
			e2 := wantCode(t, err, errs.Invalid, records.CodeValidation)
			if !hasField(e2, "author", "not_found") || len(e2.Fields) != len(e1.Fields) || e2.Fields[0].Code != e1.Fields[0].Code {
				t.Errorf("%s: %v, want the answer of a missing id %v", name, e2.Fields, e1.Fields)
			}
		}
		if err := insert(open["id"].(string), partly); err != nil {
			t.Errorf("a visible record: %v", err)
		}
		if err := insert(secret["id"].(string), nil); err != nil {
			t.Errorf("a trusted caller: %v", err)
		}
		// Updates are checked the same way.
		rec := e.insert(articles, "", map[string]any{"title": "y"})
		err := e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, articles, rec["id"].(string), map[string]any{"author": secret["id"]}, schema.Patch, 0,
				&records.Access{Auth: auth("u1"), Views: partly.Views})
			return err
		})
		if e2 := wantCode(t, err, errs.Invalid, records.CodeValidation); !hasField(e2, "author", "not_found") {
			t.Errorf("update: %v", e2.Fields)
		}
	})
}

// TestUpdateRuleHoldsAfterTheChange: the update rule must admit the
// record as it becomes, not only as it was: an update that would move the
// record out of the rule's reach is refused, and nothing is written.
func TestUpdateRuleHoldsAfterTheChange(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		def := posts()
		def.Fields = append(def.Fields, schema.Field{Name: "approved", Type: schema.Bool})
		c := e.collection(def)
		rec := e.insert(c, "u1", map[string]any{"title": "draft", "approved": false})
		id := rec["id"].(string)
		acc := e.access(c, `author = @request.auth.id && approved = false`, "u1")
		update := func(in map[string]any) error {
			return e.tx(func(tx *store.Tx) error {
				_, _, err := e.s.Update(e.ctx, tx, c, id, in, schema.Patch, 0, acc)
				return err
			})
		}
		wantCode(t, update(map[string]any{"approved": true}), errs.Forbidden, records.CodeForbidden)
		if got := e.get(c, id); got["approved"] != false || got["version"] != float64(1) {
			t.Errorf("after a refused update: %v, want it unchanged", got)
		}
		if err := update(map[string]any{"title": "still a draft"}); err != nil {
			t.Errorf("an update the rule admits after: %v", err)
		}
	})
}
