package content_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
)

// TestRealtimeEndsOnRevocation: the realtime connections of a deleted
// user, and of a revoked session, end ("ended" with the reason) on the
// replica holding them, while others stay.
func TestRealtimeEndsOnRevocation(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, openDef)
		gone, revoked, stays := c.tokens.mint(nil, nil), c.tokens.mint(nil, nil), c.tokens.mint(nil, nil)
		streams := map[string]*sseClient{}
		for name, u := range map[string]user{"gone": gone, "revoked": revoked, "stays": stays} {
			streams[name] = openSSE(t, r.URL+"/v1/realtime?subscribe=docs/*", u, "")
			streams[name].next(t, "connect")
		}
		publish := func(typ, subject string, data any) {
			ev, err := bus.NewEvent(c.auth, "bam."+c.auth+"."+typ, subject, data)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.bus.Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		ended := func(s *sseClient, publish func()) string {
			t.Helper()
			deadline := time.After(wait)
			tick := time.NewTicker(200 * time.Millisecond) // the follower may start after the first event
			defer tick.Stop()
			publish()
			for {
				select {
				case ev, ok := <-s.events:
					if !ok {
						t.Fatal("the stream ended without an ended event")
					}
					if ev.event == "ended" {
						var m map[string]any
						_ = json.Unmarshal([]byte(ev.data), &m)
						s, _ := m["reason"].(string)
						return s
					}
				case <-tick.C:
					publish()
				case <-deadline:
					t.Fatal("the connection was not ended")
				}
			}
		}
		if why := ended(streams["gone"], func() { publish("user.deleted", gone.ID, map[string]any{"id": gone.ID}) }); why != "user_deleted" {
			t.Errorf("user deleted: reason %q", why)
		}
		if why := ended(streams["revoked"], func() {
			publish("session.revoked", revoked.SID, map[string]any{"sid": revoked.SID, "sub": revoked.ID})
		}); why != "session_revoked" {
			t.Errorf("session revoked: reason %q", why)
		}
		r.create("docs", user0, map[string]any{"title": "still here"})
		if ev := streams["stays"].next(t, "change"); ev.data == "" {
			t.Error("the other connection lost its change")
		}
	})
}
