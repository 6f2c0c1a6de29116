package records_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

func TestCRUD(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		rec := e.insert(c, "u1", map[string]any{"title": "Hello", "views": float64(3), "published": true,
			"tags": []any{"go", "sql"}, "due": "2026-01-02T03:04:05.678Z", "meta": map[string]any{"a": float64(1)}})
		id, _ := rec["id"].(string)
		if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
			t.Fatalf("id %q is not a UUIDv7", id)
		}
		now := e.clock.Now().Format("2006-01-02T15:04:05.000Z")
		if rec["created"] != now || rec["updated"] != now || rec["version"] != float64(1) {
			t.Fatalf("system fields %v %v %v, want %s %s 1", rec["created"], rec["updated"], rec["version"], now, now)
		}
		if rec["author"] != "u1" || rec["title"] != "Hello" || rec["published"] != true {
			t.Fatalf("inserted %v", rec)
		}
		got := e.get(c, id)
		if got == nil || got["title"] != "Hello" || got["due"] != "2026-01-02T03:04:05.678Z" || got["body"] != nil {
			t.Fatalf("read back %v", got)
		}
		if tags, _ := got["tags"].([]any); len(tags) != 2 || tags[0] != "go" {
			t.Fatalf("tags %v", got["tags"])
		}
		if !reflect.DeepEqual(rec, got) {
			t.Fatalf("Insert returned\n%v\nGet reads\n%v", rec, got)
		}

		e.clock.Advance(1500 * time.Millisecond)
		var old, upd records.Record
		err := e.tx(func(tx *store.Tx) (err error) {
			old, upd, err = e.s.Update(e.ctx, tx, c, id, map[string]any{"views": float64(4)}, schema.Patch, 1, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if old["views"] == upd["views"] || upd["title"] != "Hello" || upd["version"] != float64(2) ||
			upd["updated"] != e.clock.Now().Format("2006-01-02T15:04:05.000Z") || upd["created"] != now || upd["author"] != "u1" {
			t.Fatalf("update: old %v new %v", old, upd)
		}
		if !reflect.DeepEqual(upd, e.get(c, id)) || !reflect.DeepEqual(old, got) {
			t.Fatalf("Update returned %v, Get reads %v", upd, e.get(c, id))
		}

		// Replace: absent fields become null, the owner stays.
		err = e.tx(func(tx *store.Tx) (err error) {
			_, upd, err = e.s.Update(e.ctx, tx, c, id, map[string]any{"title": "Again"}, schema.Replace, 0, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd["views"] != nil || upd["tags"] != nil || upd["title"] != "Again" || upd["author"] != "u1" || upd["version"] != float64(3) {
			t.Fatalf("replace: %v", upd)
		}
		if !reflect.DeepEqual(upd, e.get(c, id)) {
			t.Fatalf("Update (replace) returned %v, Get reads %v", upd, e.get(c, id))
		}

		var deleted []records.Deleted
		err = e.tx(func(tx *store.Tx) (err error) {
			deleted, _, err = e.s.Delete(e.ctx, tx, c, id, 3, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(deleted) != 1 || deleted[0].Record["id"] != id || deleted[0].Collection.Name != "posts" {
			t.Fatalf("deleted %v", deleted)
		}
		if e.get(c, id) != nil {
			t.Fatal("record still there after delete")
		}
		_, err = e.s.Get(e.ctx, e.db.SQL(), c, id, nil)
		wantCode(t, err, errs.NotFound, "content.not_found")
		err = e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, c, id, map[string]any{"views": float64(1)}, schema.Patch, 0, nil)
			return err
		})
		wantCode(t, err, errs.NotFound, "content.not_found")
	})
}

func TestInsertValidation(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		err := e.tx(func(tx *store.Tx) error {
			_, err := e.s.Insert(e.ctx, tx, c, map[string]any{"views": "many"}, "", nil)
			return err
		})
		ve := wantCode(t, err, errs.Invalid, "content.validation_failed")
		if !hasField(ve, "title", "") || !hasField(ve, "views", "") {
			t.Fatalf("fields %v, want title and views", ve.Fields)
		}
	})
}

func TestUniqueViolationIsFieldError(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		e.insert(c, "", map[string]any{"title": "a", "slug": "same"})
		other := e.insert(c, "", map[string]any{"title": "b", "slug": "other"})
		err := e.tx(func(tx *store.Tx) error {
			_, err := e.s.Insert(e.ctx, tx, c, map[string]any{"title": "c", "slug": "same"}, "", nil)
			return err
		})
		ve := wantCode(t, err, errs.Invalid, "content.validation_failed")
		if !hasField(ve, "slug", "taken") {
			t.Fatalf("fields %v, want slug taken", ve.Fields)
		}
		err = e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, c, other["id"].(string), map[string]any{"slug": "same"}, schema.Patch, 0, nil)
			return err
		})
		ve = wantCode(t, err, errs.Invalid, "content.validation_failed")
		if !hasField(ve, "slug", "taken") {
			t.Fatalf("update: fields %v, want slug taken", ve.Fields)
		}
	})
}

func TestCreateRuleRefusal(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		rule := `@request.auth.id != null && author = @request.auth.id && views < 10`
		var rec records.Record
		err := e.tx(func(tx *store.Tx) (err error) {
			rec, err = e.s.Insert(e.ctx, tx, c, map[string]any{"title": "ok", "views": float64(1)}, "u1", e.access(c, rule, "u1"))
			return err
		})
		if err != nil || rec["title"] != "ok" {
			t.Fatalf("admitted insert: %v %v", rec, err)
		}
		for _, tc := range []struct {
			name  string
			user  string
			input map[string]any
		}{
			{"anonymous", "", map[string]any{"title": "x", "views": float64(1)}},
			{"rule on values", "u1", map[string]any{"title": "x", "views": float64(50)}},
		} {
			err := e.tx(func(tx *store.Tx) error {
				_, err := e.s.Insert(e.ctx, tx, c, tc.input, tc.user, e.access(c, rule, tc.user))
				return err
			})
			wantCode(t, err, errs.Forbidden, "content.forbidden")
		}
		page, err := e.s.List(e.ctx, c, records.Query{})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("refused inserts were kept: %d items, %v", len(page.Items), err)
		}
	})
}

func TestForbiddenViewIsNotFound(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		mine := e.insert(c, "u1", map[string]any{"title": "mine"})
		pub := e.insert(c, "u2", map[string]any{"title": "public", "published": true})
		rule := `published = true || author = @request.auth.id`
		for _, tc := range []struct {
			user string
			rec  records.Record
			ok   bool
		}{
			{"u1", mine, true}, {"u2", mine, false}, {"", mine, false}, {"", pub, true}, {"u1", pub, true},
		} {
			got, err := e.s.Get(e.ctx, e.db.SQL(), c, tc.rec["id"].(string), e.access(c, rule, tc.user))
			if tc.ok && (err != nil || got["id"] != tc.rec["id"]) {
				t.Errorf("%s viewing %s: %v %v", tc.user, tc.rec["title"], got, err)
			}
			if !tc.ok {
				wantCode(t, err, errs.NotFound, "content.not_found")
			}
		}
		// Absent and forbidden answer alike.
		_, err := e.s.Get(e.ctx, e.db.SQL(), c, "nope", e.access(c, rule, "u1"))
		wantCode(t, err, errs.NotFound, "content.not_found")

		// Update and delete of a forbidden record: not found, nothing changed.
		upd := e.access(c, `author = @request.auth.id`, "u2")
		err = e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, c, mine["id"].(string), map[string]any{"title": "x"}, schema.Patch, 0, upd)
			return err
		})
		wantCode(t, err, errs.NotFound, "content.not_found")
		err = e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Delete(e.ctx, tx, c, mine["id"].(string), 0, upd)
			return err
		})
		wantCode(t, err, errs.NotFound, "content.not_found")
		if got := e.get(c, mine["id"].(string)); got["title"] != "mine" || got["version"] != float64(1) {
			t.Fatalf("forbidden writes changed the record: %v", got)
		}

		// GetMany returns only the admitted ones.
		many, err := e.s.GetMany(e.ctx, e.db.SQL(), c, []string{mine["id"].(string), pub["id"].(string), "nope", pub["id"].(string)}, e.access(c, rule, ""))
		if err != nil || len(many) != 1 || many[0]["id"] != pub["id"] {
			t.Fatalf("GetMany: %v %v", many, err)
		}
		many, err = e.s.GetMany(e.ctx, e.db.SQL(), c, []string{mine["id"].(string), pub["id"].(string)}, nil)
		if err != nil || len(many) != 2 {
			t.Fatalf("GetMany without rule: %v %v", many, err)
		}
	})
}

func TestVersionConflict(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		id := e.insert(c, "", map[string]any{"title": "v1"})["id"].(string)
		update := func(ifVersion int64) error {
			return e.tx(func(tx *store.Tx) error {
				_, _, err := e.s.Update(e.ctx, tx, c, id, map[string]any{"title": "next"}, schema.Patch, ifVersion, nil)
				return err
			})
		}
		if err := update(1); err != nil {
			t.Fatal(err)
		}
		wantCode(t, update(1), errs.PreconditionFailed, "content.precondition_failed")
		if err := update(0); err != nil { // no If-Match: last writer wins
			t.Fatal(err)
		}
		err := e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Delete(e.ctx, tx, c, id, 2, nil)
			return err
		})
		wantCode(t, err, errs.PreconditionFailed, "content.precondition_failed")
		if got := e.get(c, id); got == nil || got["version"] != float64(3) {
			t.Fatalf("after conflicts: %v", got)
		}
	})
}

func TestRelationMustExist(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		people := e.collection(schema.Collection{Name: "people", Fields: []schema.Field{{Name: "name", Type: schema.Text}}})
		e.collection(schema.Collection{Name: "tags", Fields: []schema.Field{{Name: "label", Type: schema.Text}}})
		c := e.collection(schema.Collection{Name: "notes", Fields: []schema.Field{
			{Name: "writer", Type: schema.Relation, Collection: "people"},
			{Name: "tagged", Type: schema.Relation, Collection: "tags", Multi: true},
		}})
		ann := e.insert(people, "", map[string]any{"name": "ann"})
		err := e.tx(func(tx *store.Tx) error {
			_, err := e.s.Insert(e.ctx, tx, c, map[string]any{"writer": "ghost", "tagged": []any{"t1", "t2"}}, "", nil)
			return err
		})
		ve := wantCode(t, err, errs.Invalid, "content.validation_failed")
		n := 0
		for _, f := range ve.Fields {
			if f.Code == "not_found" {
				n++
			}
		}
		if n != 3 || !hasField(ve, "writer", "not_found") || !hasField(ve, "tagged", "not_found") {
			t.Fatalf("fields %v, want writer and tagged twice not_found", ve.Fields)
		}
		rec := e.insert(c, "", map[string]any{"writer": ann["id"]})
		err = e.tx(func(tx *store.Tx) error {
			_, _, err := e.s.Update(e.ctx, tx, c, rec["id"].(string), map[string]any{"writer": "ghost"}, schema.Patch, 0, nil)
			return err
		})
		wantCode(t, err, errs.Invalid, "content.validation_failed")
	})
}

// TestDraftWrittenAgain: a Draft, made outside any transaction, is the
// record Write returns; written in a transaction that rolls back it is
// not there, and written again in the next one it is, with its id.
func TestDraftWrittenAgain(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		c := e.collection(posts())
		d, err := e.s.Draft(c, map[string]any{"title": "Drafted", "views": float64(2)}, "u1")
		if err != nil {
			t.Fatal(err)
		}
		id, _ := d.Record()["id"].(string)
		if id == "" || d.Record()["author"] != "u1" || d.Record()["version"] != float64(1) {
			t.Fatalf("draft %v", d.Record())
		}
		if _, err := e.s.Draft(c, map[string]any{"views": float64(2)}, "u1"); err == nil {
			t.Fatal("a draft without the required title was made")
		}
		rollback := errors.New("rolled back")
		err = e.tx(func(tx *store.Tx) error {
			if _, err := e.s.Write(e.ctx, tx, d, nil); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if got := e.get(c, id); got != nil {
			t.Fatalf("a rolled-back write is there: %v", got)
		}
		var rec records.Record
		if err := e.tx(func(tx *store.Tx) (err error) { rec, err = e.s.Write(e.ctx, tx, d, nil); return err }); err != nil {
			t.Fatal(err)
		}
		if got := e.get(c, id); !reflect.DeepEqual(got, rec) || !reflect.DeepEqual(rec, d.Record()) {
			t.Fatalf("Write returned\n%v\nGet reads\n%v", rec, got)
		}
	})
}
