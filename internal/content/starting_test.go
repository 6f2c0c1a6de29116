package content_test

import (
	"net/http"
	"testing"

	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestRealtimeWaitsForTheFollower: a replica that does not (yet) follow the
// content stream refuses realtime subscriptions with a 503 instead of
// accepting ones that could miss changes committed meanwhile.
func TestRealtimeWaitsForTheFollower(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		b := bustest.Open(t, bustest.Embedded)
		c := newCluster(t, b)
		r := c.startDeaf(db, b)
		got := r.call(http.MethodGet, "/v1/realtime?subscribe=posts/*", nil, c.admin)
		if got.Status != http.StatusServiceUnavailable || got.str("code") != "content.realtime_starting" ||
			got.Header.Get("Retry-After") == "" {
			t.Fatalf("realtime before following: %d %s (Retry-After %q); want 503 content.realtime_starting",
				got.Status, got.Raw, got.Header.Get("Retry-After"))
		}
	}, content.Migrations...)
}
