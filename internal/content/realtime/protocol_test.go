package realtime

import (
	"strings"
	"testing"
)

func TestARecordGivenAsJSONIsSentAsGivenAndDecodedOnlyForMatchers(t *testing.T) {
	h := NewHub(Options{})
	h.SetPosition(0)
	raw := `{"id":"p1","title":"Hello","views":1e400}` // a number no float64 holds: never re-encoded
	h.Publish(Change{Seq: 1, Action: "created", Collection: "posts", ID: "p1", RecordJSON: []byte(raw)})

	got, reason := h.win.since(0)
	if reason != "" || len(got) != 1 {
		t.Fatalf("window = %d changes, %q", len(got), reason)
	}
	e := got[0]
	if !strings.Contains(string(e.body), `"record":`+raw+`,"subscriptions":`) {
		t.Fatalf("body = %s, want the record as given", e.body)
	}
	if e.change.Record != nil || e.change.RecordJSON != nil {
		t.Fatalf("with no subscriber the record was decoded (%v) or kept twice (%d bytes)", e.change.Record, len(e.change.RecordJSON))
	}
	if h.decodeRecord(e) {
		t.Fatal("a record that does not decode (1e400) was handed to matchers")
	}

	h.Publish(Change{Seq: 2, Action: "created", Collection: "posts", ID: "p2", RecordJSON: []byte(`{"id":"p2","views":3}`)})
	got, _ = h.win.since(1)
	if e := got[0]; !h.decodeRecord(e) || e.change.Record["views"] != 3.0 || e.change.Record["id"] != "p2" {
		t.Fatalf("decoded record = %v", e.change.Record)
	}
}

func TestARecordGivenAsJSONWithLineBreaksIsSentCompact(t *testing.T) {
	h := NewHub(Options{})
	h.SetPosition(0)
	h.Publish(Change{Seq: 1, Action: "created", Collection: "posts", ID: "p1", RecordJSON: []byte("{\n  \"id\": \"p1\",\r\n  \"n\": 2\n}")})
	h.Publish(Change{Seq: 2, Action: "created", Collection: "posts", ID: "p2", RecordJSON: []byte{}, Record: map[string]any{"id": "p2"}})
	got, _ := h.win.since(0)
	if len(got) != 2 {
		t.Fatalf("window holds %d changes", len(got))
	}
	if body := string(got[0].body); !strings.Contains(body, `"record":{"id":"p1","n":2},`) {
		t.Errorf("body = %s, want the record compact", body)
	}
	if body := string(got[1].body); !strings.Contains(body, `"record":{"id":"p2"},`) {
		t.Errorf("body = %s, want an empty RecordJSON taken as unset", body)
	}
}
