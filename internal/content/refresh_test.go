package content_test

import (
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestStaleRulesExpire: a replica that hears nothing of a rule change
// (here it follows nothing: the stream lags without end) enforces the new
// rule within about a second anyway.
func TestStaleRulesExpire(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dbA, dbB := sharedDB(t, d)
			b := bustest.Open(t, bustest.Embedded)
			c := newCluster(t, b)
			a, deaf := c.start(dbA, b), c.startDeaf(dbB, b)
			c.collection(a, openDef)
			deaf.create("docs", user0, map[string]any{"title": "x"})
			deaf.call("GET", "/v1/collections/docs/records", nil, user0).expect(t, 200, "")
			a.call("PATCH", "/v1/collections/docs", map[string]any{"rules": map[string]any{"list": nil}}, c.admin).expect(t, 200, "")
			deadline := time.Now().Add(3 * time.Second)
			for {
				got := deaf.call("GET", "/v1/collections/docs/records", nil, user0)
				if got.Status == 403 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the replica still enforces the old list rule: %d %s", got.Status, got.Raw)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
