package content_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/store"
)

// TestRecordEvents: writes publish record.* events with the record's
// collection, id, version and data (none for a sensitive collection),
// including the records a cascade deletes and those set-null changes.
func TestRecordEvents(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, openDef)
		c.collection(r, `{"name": "secrets", "sensitive": true, "fields": [{"name": "code", "type": "text"}],
		  "rules": {"create": ""}}`)
		c.collection(r, `{"name": "parts", "fields": [{"name": "doc", "type": "relation", "collection": "docs", "onDelete": "cascade"}],
		  "rules": {"create": ""}}`)
		c.collection(r, `{"name": "refs", "fields": [{"name": "doc", "type": "relation", "collection": "docs", "onDelete": "set_null"}],
		  "rules": {"create": ""}}`)
		doc := r.create("docs", user0, map[string]any{"title": "t"})
		r.call("PATCH", "/v1/collections/docs/records/"+doc.str("id"), map[string]any{"n": 3}, user0).expect(t, 200, "")
		secret := r.create("secrets", user0, map[string]any{"code": "1234"})
		part := r.create("parts", user0, map[string]any{"doc": doc.str("id")})
		ref := r.create("refs", user0, map[string]any{"doc": doc.str("id")})
		r.call("DELETE", "/v1/collections/docs/records/"+doc.str("id"), nil, user0).expect(t, 204, "")

		evs := c.events(r.bus, 4+6+2)
		data := func(ev bus.Event) content.RecordEvent {
			var d content.RecordEvent
			if err := ev.DataAs(&d); err != nil {
				t.Fatal(err)
			}
			return d
		}
		find := func(verb, id string) (content.RecordEvent, bool) {
			for _, ev := range ofType(evs, verb) {
				if ev.Subject() == id {
					return data(ev), true
				}
			}
			return content.RecordEvent{}, false
		}
		if d, ok := find("record.created", doc.str("id")); !ok || d.Collection != "docs" || d.Version != 1 || d.Record["title"] != "t" {
			t.Errorf("created = %+v", d)
		}
		if d, ok := find("record.updated", doc.str("id")); !ok || d.Version != 2 || d.Record["n"] != float64(3) {
			t.Errorf("updated = %+v", d)
		}
		if d, ok := find("record.created", secret.str("id")); !ok || d.Record != nil || d.Collection != "secrets" {
			t.Errorf("a sensitive record's event carries data: %+v", d)
		}
		if d, ok := find("record.deleted", doc.str("id")); !ok || d.Record["title"] != "t" {
			t.Errorf("deleted = %+v", d)
		}
		if d, ok := find("record.deleted", part.str("id")); !ok || d.Collection != "parts" {
			t.Errorf("no event for the cascaded delete: %+v", d)
		}
		if d, ok := find("record.updated", ref.str("id")); !ok || d.Collection != "refs" || d.Record["doc"] != nil {
			t.Errorf("no event for the set-null change: %+v", d)
		}
	})
}

// TestUserDeletedExactlyOnce: auth's user.deleted removes the user's
// records (or anonymises them, per collection) with their events, and the
// same event delivered twice (published twice, past JetStream's
// deduplication) is applied once. On real NATS too when
// BAM_TEST_NATS_URL is set.
func TestUserDeletedExactlyOnce(t *testing.T) {
	bustest.RunWithDB(t, func(t *testing.T, b *bus.Bus, db *store.DB) {
		c := newCluster(t, b)
		r := c.start(db, b)
		c.collection(r, `{"name": "posts", "fields": [{"name": "title", "type": "text"}, {"name": "author", "type": "owner"}],
		  "rules": {"list": "", "create": "@request.auth.id != null"}}`)
		c.collection(r, `{"name": "comments", "onUserDeleted": "anonymize",
		  "fields": [{"name": "text", "type": "text"}, {"name": "author", "type": "owner"}],
		  "rules": {"list": "", "create": "@request.auth.id != null"}}`)
		gone, stays := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)
		r.create("posts", gone, map[string]any{"title": "a"})
		r.create("posts", gone, map[string]any{"title": "b"})
		kept := r.create("posts", stays, map[string]any{"title": "c"})
		comment := r.create("comments", gone, map[string]any{"text": "hi"})

		ev, err := bus.NewEvent(c.auth, "bam."+c.auth+".user.deleted", gone.ID, map[string]any{"id": gone.ID, "email": "x@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bus.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		deliver := func() { // no Nats-Msg-Id: JetStream stores each copy, only the inbox can drop it
			t.Helper()
			ack, err := b.JetStream().Publish(ctx, ev.Type(), raw)
			if err != nil {
				t.Fatal(err)
			}
			waitConsumed(t, b, c.auth, content.UsersConsumer, ack.Sequence)
		}
		deliver()
		// A record the user makes after the deletion (their token still
		// works until it expires) must survive the event's redelivery.
		after := r.create("posts", gone, map[string]any{"title": "after"})
		deliver()

		posts := r.call("GET", "/v1/collections/posts/records?sort=title", nil, user0).expect(t, 200, "")
		if ids := posts.ids(); !slices.Equal(ids, []string{after.str("id"), kept.str("id")}) {
			t.Errorf("posts left = %s, want the untouched one and the one made after the event", posts.Raw)
		}
		cm := r.call("GET", "/v1/collections/comments/records/"+comment.str("id"), nil, c.admin).expect(t, 200, "")
		if cm.Body["author"] != nil || cm.Body["text"] != "hi" {
			t.Errorf("anonymised comment = %s", cm.Raw)
		}
		evs := c.events(r.bus, 2+5+3)
		if n := len(ofType(evs, "record.deleted")); n != 2 {
			t.Errorf("%d record.deleted events, want 2 (once, despite the redelivery)", n)
		}
		if n := len(ofType(evs, "record.updated")); n != 1 {
			t.Errorf("%d record.updated events, want 1", n)
		}
		var rows int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bam_inbox WHERE event_id = $1`, ev.ID()).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("inbox rows for the event = %d (%v)", rows, err)
		}
	}, content.Migrations...)
}

// waitConsumed waits until the durable consumer has acknowledged the
// stream up to seq.
func waitConsumed(t *testing.T, b *bus.Bus, service, durable string, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		cons, err := b.JetStream().Consumer(ctx, bus.StreamName(service), durable)
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.AckFloor.Stream >= seq {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumer %s did not finish: %v", durable, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
