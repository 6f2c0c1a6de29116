package records_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// relations creates people and the collections pointing at them with each
// on-delete action.
func relations(e *env) (people, notes, comments, reviews, pins *schema.Collection) {
	people = e.collection(schema.Collection{Name: "people", Fields: []schema.Field{{Name: "name", Type: schema.Text}}})
	notes = e.collection(schema.Collection{Name: "notes", Fields: []schema.Field{
		{Name: "text", Type: schema.Text},
		{Name: "writer", Type: schema.Relation, Collection: "people", OnDelete: schema.Cascade},
	}})
	comments = e.collection(schema.Collection{Name: "comments", Fields: []schema.Field{
		{Name: "note", Type: schema.Relation, Collection: "notes", OnDelete: schema.Cascade},
	}})
	reviews = e.collection(schema.Collection{Name: "reviews", Fields: []schema.Field{
		{Name: "editor", Type: schema.Relation, Collection: "people", OnDelete: schema.SetNull},
		{Name: "likes", Type: schema.Relation, Collection: "people", Multi: true, OnDelete: schema.SetNull},
	}})
	pins = e.collection(schema.Collection{Name: "pins", Fields: []schema.Field{
		{Name: "who", Type: schema.Relation, Collection: "people"}, // restrict by default
	}})
	return
}

func (e *env) delete(c *schema.Collection, id string) ([]records.Deleted, []records.Changed, error) {
	var (
		d  []records.Deleted
		ch []records.Changed
	)
	err := e.tx(func(tx *store.Tx) (err error) {
		d, ch, err = e.s.Delete(e.ctx, tx, c, id, 0, nil)
		return err
	})
	return d, ch, err
}

func ids(d []records.Deleted) []string {
	out := make([]string, len(d))
	for i, r := range d {
		out[i] = r.Collection.Name + "/" + r.Record["id"].(string)
	}
	return out
}

func TestDeleteCascade(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people, notes, comments, _, _ := relations(e)
		ann := e.insert(people, "", map[string]any{"name": "ann"})
		bob := e.insert(people, "", map[string]any{"name": "bob"})
		n1 := e.insert(notes, "", map[string]any{"writer": ann["id"]})
		n2 := e.insert(notes, "", map[string]any{"writer": bob["id"]})
		c1 := e.insert(comments, "", map[string]any{"note": n1["id"]})
		c2 := e.insert(comments, "", map[string]any{"note": n2["id"]})

		d, ch, err := e.delete(people, ann["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"people/" + ann["id"].(string), "notes/" + n1["id"].(string), "comments/" + c1["id"].(string)}
		if !slices.Equal(ids(d), want) || len(ch) != 0 {
			t.Fatalf("deleted %v changed %v, want %v", ids(d), ch, want)
		}
		if e.get(notes, n1["id"].(string)) != nil || e.get(comments, c1["id"].(string)) != nil {
			t.Fatal("cascaded records still there")
		}
		if e.get(notes, n2["id"].(string)) == nil || e.get(comments, c2["id"].(string)) == nil || e.get(people, bob["id"].(string)) == nil {
			t.Fatal("unrelated records deleted")
		}
	})
}

func TestDeleteCascadeCycle(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		nodes := e.collection(schema.Collection{Name: "nodes", Fields: []schema.Field{
			{Name: "parent", Type: schema.Relation, Collection: "nodes", OnDelete: schema.Cascade},
		}})
		a := e.insert(nodes, "", map[string]any{})
		b := e.insert(nodes, "", map[string]any{"parent": a["id"]})
		c := e.insert(nodes, "", map[string]any{"parent": b["id"]})
		other := e.insert(nodes, "", map[string]any{})
		err := e.tx(func(tx *store.Tx) error { // close the cycle a → c → b → a
			_, _, err := e.s.Update(e.ctx, tx, nodes, a["id"].(string), map[string]any{"parent": c["id"]}, schema.Patch, 0, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := e.delete(nodes, b["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		got := ids(d)
		if len(got) != 3 || got[0] != "nodes/"+b["id"].(string) {
			t.Fatalf("deleted %v, want b first then c and a", got)
		}
		if e.get(nodes, other["id"].(string)) == nil {
			t.Fatal("unrelated node deleted")
		}
	})
}

func TestDeleteSetNull(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people, _, _, reviews, _ := relations(e)
		ann := e.insert(people, "", map[string]any{"name": "ann"})
		bob := e.insert(people, "", map[string]any{"name": "bob"})
		r1 := e.insert(reviews, "", map[string]any{"editor": ann["id"], "likes": []any{bob["id"], ann["id"]}})
		r2 := e.insert(reviews, "", map[string]any{"editor": bob["id"], "likes": []any{ann["id"]}})
		r3 := e.insert(reviews, "", map[string]any{"editor": bob["id"], "likes": []any{bob["id"]}})

		d, ch, err := e.delete(people, ann["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 1 || len(ch) != 2 {
			t.Fatalf("deleted %v, changed %d records, want 1 and 2", ids(d), len(ch))
		}
		byID := map[string]records.Changed{}
		for _, c := range ch {
			byID[c.New["id"].(string)] = c
		}
		got1, got2 := byID[r1["id"].(string)], byID[r2["id"].(string)]
		if got1.Old["editor"] != ann["id"] || got1.New["editor"] != nil || !slices.Equal(got1.New["likes"].([]any), []any{bob["id"]}) {
			t.Fatalf("r1 changed %v → %v", got1.Old, got1.New)
		}
		if got1.New["version"] != float64(2) || got1.Collection.Name != "reviews" {
			t.Fatalf("r1 version %v", got1.New["version"])
		}
		if got2.New["editor"] != bob["id"] || len(asList(got2.New["likes"])) != 0 {
			t.Fatalf("r2 changed %v → %v", got2.Old, got2.New)
		}
		if stored := e.get(reviews, r1["id"].(string)); !reflect.DeepEqual(stored, got1.New) {
			t.Fatalf("r1 stored %v", stored)
		}
		if stored := e.get(reviews, r3["id"].(string)); stored["version"] != float64(1) {
			t.Fatalf("unrelated r3 changed: %v", stored)
		}
	})
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestDeleteRestrict(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people, notes, _, reviews, pins := relations(e)
		ann := e.insert(people, "", map[string]any{"name": "ann"})
		n := e.insert(notes, "", map[string]any{"writer": ann["id"]})
		r := e.insert(reviews, "", map[string]any{"editor": ann["id"]})
		e.insert(pins, "", map[string]any{"who": ann["id"]})

		_, _, err := e.delete(people, ann["id"].(string))
		ce := wantCode(t, err, errs.Conflict, "content.restricted")
		if !hasField(ce, "pins.who", "restricted") {
			t.Fatalf("restricted error %v does not name pins", ce)
		}
		if e.get(people, ann["id"].(string)) == nil || e.get(notes, n["id"].(string)) == nil ||
			e.get(reviews, r["id"].(string))["editor"] != ann["id"] {
			t.Fatal("a refused delete changed records")
		}
	})
}

func TestForgetOwner(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		profiles := e.collection(schema.Collection{Name: "profiles", OnUserDeleted: "anonymize", Fields: []schema.Field{
			{Name: "bio", Type: schema.Text}, {Name: "owner", Type: schema.Owner},
		}})
		replies := e.collection(schema.Collection{Name: "replies", Fields: []schema.Field{
			{Name: "post", Type: schema.Relation, Collection: "posts", OnDelete: schema.Cascade},
		}})
		p1 := e.insert(c, "u1", map[string]any{"title": "mine"})
		p2 := e.insert(c, "u2", map[string]any{"title": "theirs"})
		reply := e.insert(replies, "u2", map[string]any{"post": p1["id"]})
		pr1 := e.insert(profiles, "u1", map[string]any{"bio": "hi"})
		pr2 := e.insert(profiles, "u2", map[string]any{"bio": "yo"})

		forget := func() ([]records.Deleted, []records.Changed) {
			var (
				d  []records.Deleted
				ch []records.Changed
			)
			err := e.tx(func(tx *store.Tx) (err error) {
				d, ch, err = e.s.ForgetOwner(e.ctx, tx, "u1")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return d, ch
		}
		d, ch := forget()
		want := []string{"posts/" + p1["id"].(string), "replies/" + reply["id"].(string)}
		if !slices.Equal(ids(d), want) {
			t.Fatalf("deleted %v, want %v", ids(d), want)
		}
		if len(ch) != 1 || ch[0].New["id"] != pr1["id"] || ch[0].New["owner"] != nil || ch[0].Old["owner"] != "u1" || ch[0].New["bio"] != "hi" {
			t.Fatalf("changed %v", ch)
		}
		if e.get(c, p2["id"].(string)) == nil || e.get(profiles, pr2["id"].(string))["owner"] != "u2" {
			t.Fatal("another user's records touched")
		}
		if got := e.get(profiles, pr1["id"].(string)); got == nil || got["owner"] != nil {
			t.Fatalf("anonymized profile %v", got)
		}
		if d, ch := forget(); len(d) != 0 || len(ch) != 0 {
			t.Fatalf("second run deleted %v changed %v", ids(d), ch)
		}
	})
}

// TestForgetOwnerRestricted: a deleted user's record that a restrict
// relation from another user's record holds (directly, or through a
// cascade) is anonymised instead of deleted, so that forgetting the user
// completes; the others are deleted as usual.
func TestForgetOwnerRestricted(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		comments := e.collection(schema.Collection{Name: "comments", Fields: []schema.Field{
			{Name: "post", Type: schema.Relation, Collection: "posts", OnDelete: schema.Cascade},
			{Name: "by", Type: schema.Owner}}})
		quotes := e.collection(schema.Collection{Name: "quotes", Fields: []schema.Field{
			{Name: "post", Type: schema.Relation, Collection: "posts", OnDelete: schema.Restrict},
			{Name: "comment", Type: schema.Relation, Collection: "comments", OnDelete: schema.Restrict},
			{Name: "by", Type: schema.Owner}}})
		quoted := e.insert(c, "u1", map[string]any{"title": "quoted"})
		quotedComment := e.insert(c, "u1", map[string]any{"title": "its comment is quoted"})
		free := e.insert(c, "u1", map[string]any{"title": "free"})
		cm := e.insert(comments, "u2", map[string]any{"post": quotedComment["id"]})
		e.insert(quotes, "u2", map[string]any{"post": quoted["id"]})
		e.insert(quotes, "u2", map[string]any{"comment": cm["id"]})
		// A restrict relation from a record that is itself forgotten holds nothing.
		own := e.insert(c, "u1", map[string]any{"title": "quoted by u1 only"})
		e.insert(quotes, "u1", map[string]any{"post": own["id"]})

		var d []records.Deleted
		var ch []records.Changed
		err := e.tx(func(tx *store.Tx) (err error) {
			d, ch, err = e.s.ForgetOwner(e.ctx, tx, "u1")
			return err
		})
		if err != nil {
			t.Fatalf("ForgetOwner with restrict relations: %v", err)
		}
		gotDeleted := map[string]bool{}
		for _, x := range d {
			gotDeleted[x.Record["id"].(string)] = true
		}
		if !gotDeleted[free["id"].(string)] || !gotDeleted[own["id"].(string)] || len(d) != 3 {
			t.Errorf("deleted %v, want the free post, the post only u1 quoted and u1's quote", ids(d))
		}
		held := map[string]bool{}
		for _, x := range ch {
			if x.Restricted {
				held[x.New["id"].(string)] = true
			}
		}
		if len(held) != 2 || !held[quoted["id"].(string)] || !held[quotedComment["id"].(string)] {
			t.Errorf("anonymised instead: %v, want the quoted post and the one whose comment is quoted", held)
		}
		for _, id := range []string{quoted["id"].(string), quotedComment["id"].(string)} {
			if got := e.get(c, id); got == nil || got["author"] != nil {
				t.Errorf("held post %s = %v, want it kept without its author", id, got)
			}
		}
		if e.get(comments, cm["id"].(string)) == nil {
			t.Error("the quoted comment was deleted")
		}
		err = e.tx(func(tx *store.Tx) (err error) {
			d, ch, err = e.s.ForgetOwner(e.ctx, tx, "u1")
			return err
		})
		if err != nil || len(d) != 0 || len(ch) != 0 {
			t.Errorf("second run: deleted %v changed %d, %v", ids(d), len(ch), err)
		}
	})
}
