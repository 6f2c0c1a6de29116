package content_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/content"
)

// TestLargeRecordEvents: a record whose event data would pass 256 KiB is
// left out of the event (as a sensitive record is), and realtime still
// delivers it, read back once.
func TestLargeRecordEvents(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "blobs", "fields": [{"name": "body", "type": "text"}, {"name": "more", "type": "text"}, {"name": "most", "type": "text"}],
		  "rules": {"list": "", "view": "", "create": ""}}`)
		sse := openSSE(t, r.URL+"/v1/realtime?subscribe=blobs/*", user0, "")
		sse.next(t, "connect")
		big := r.create("blobs", user0, map[string]any{"body": strings.Repeat("x", 90000), "more": strings.Repeat("y", 90000), "most": strings.Repeat("z", 90000)})
		small := r.create("blobs", user0, map[string]any{"body": "small"})
		evs := c.events(r.bus, 2)
		for _, ev := range ofType(evs, "record.created") {
			var d content.RecordEvent
			if err := ev.DataAs(&d); err != nil {
				t.Fatal(err)
			}
			switch d.ID {
			case big.str("id"):
				if d.Record != nil || len(ev.Data()) > 256<<10 {
					t.Errorf("the large record's event carries %d bytes, with its record", len(ev.Data()))
				}
			case small.str("id"):
				if d.Record["body"] != "small" {
					t.Errorf("the small record's event lacks it: %+v", d)
				}
			}
		}
		var ch map[string]any
		_ = json.Unmarshal([]byte(sse.next(t, "change").data), &ch)
		if rec, _ := ch["record"].(map[string]any); ch["id"] != big.str("id") || len(rec["most"].(string)) != 90000 {
			t.Errorf("realtime got %v for the large record", ch["id"])
		}
	})
}
