package realtime

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// envelope is a published change with its one encoding, made by Publish
// and shared by every connection it is delivered to and by the resume
// window. The transports write their own head before body and the
// matched names after it.
type envelope struct {
	change Change
	at     time.Time // when the window got it
	gen    uint64    // its place among the window's additions (window.add)
	// body is the change's JSON members from "action" to the key
	// "subscriptions" (whose value differs per connection), without the
	// braces; nil when the record could not be encoded.
	body []byte
	// record is the record's JSON within body, which decodeRecord turns
	// into change.Record (once) when that came encoded only.
	record       []byte
	decodeOnce   sync.Once
	decodeFailed bool
}

// newEnvelope encodes c: its record as given in c.RecordJSON, else
// encoded from c.Record.
func (h *Hub) newEnvelope(c Change) *envelope {
	e := &envelope{change: c}
	e.change.RecordJSON = nil // body holds it
	rec := []byte(c.RecordJSON)
	if bytes.ContainsAny(rec, "\r\n") {
		// A line break would end the SSE data line: send it compact.
		var b bytes.Buffer
		if json.Compact(&b, rec) == nil {
			rec = b.Bytes()
		} else {
			rec = nil // and encoded from Record, or dropped
		}
	}
	if len(rec) == 0 {
		var err error
		if rec, err = json.Marshal(c.Record); err != nil {
			droppedEncode.Inc()
			h.logf("realtime: cannot encode record", "collection", c.Collection, "id", c.ID, "error", err)
			return e
		}
	}
	b := make([]byte, 0, len(rec)+len(c.Collection)+len(c.ID)+80)
	b = appendField(b, "action", c.Action)
	b = append(b, ',')
	b = appendField(b, "collection", c.Collection)
	b = append(b, ',')
	b = appendField(b, "id", c.ID)
	b = append(b, `,"record":`...)
	start := len(b)
	b = append(b, rec...)
	end := len(b)
	e.body = append(b, `,"subscriptions":`...)
	e.record = e.body[start:end:end]
	return e
}

// decodeRecord makes sure e.change.Record is set when the change came
// with its record encoded only, so that Matchers can read it; false when
// that JSON does not decode into an object (then no Matcher sees the
// change; counted and logged once). Safe for concurrent use: the
// publishing goroutine and resuming connections may match the same
// envelope at once.
func (h *Hub) decodeRecord(e *envelope) bool {
	e.decodeOnce.Do(func() {
		if e.change.Record != nil || e.record == nil {
			return
		}
		var rec map[string]any
		if err := json.Unmarshal(e.record, &rec); err != nil {
			e.decodeFailed = true
			matcherErrors.Inc()
			h.logf("realtime: the change's record does not decode", "collection", e.change.Collection,
				"id", e.change.ID, "error", err)
			return
		}
		e.change.Record = rec
	})
	return !e.decodeFailed
}

// size is what e counts against Options.WindowMaxBytes.
func (e *envelope) size() int { return len(e.body) }

// sseHead appends the start of e's SSE event, up to its body.
func (e *envelope) sseHead(b []byte) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, e.change.Seq, 10)
	return append(b, "\nevent: change\ndata: {"...)
}

// wsHead appends the start of e's WebSocket message, up to its body.
func (e *envelope) wsHead(b []byte) []byte {
	b = append(b, `{"type":"change","seq":`...)
	b = strconv.AppendUint(b, e.change.Seq, 10)
	return append(b, ',')
}

// appendField appends "name":<value as a JSON string>; name is a plain
// ASCII constant.
func appendField(b []byte, name, value string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}

// appendNames appends the JSON array of the matched subscriptions' names
// and closes the object.
func appendNames(b []byte, subs []*sub) []byte {
	b = append(b, '[')
	for i, s := range subs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.nameJSON...)
	}
	return append(b, "]}"...)
}

// Client-facing reasons of the overflow and expired messages.
const overflowMessage = "The connection fell behind; reconnect with Last-Event-ID."

// expiredMessage is the reason given for endExpired with detail.
func expiredMessage(detail string) string {
	if detail == expiredAge {
		return "The connection reached its maximum age; reconnect with a fresh credential."
	}
	return "The credential expired; reconnect with a fresh one."
}

// subSpec is a subscription as clients send it: the Subscription plus an
// optional name.
type subSpec struct {
	ID     string `json:"id,omitempty"`
	Topic  string `json:"topic"`
	Filter string `json:"filter,omitempty"`
}

// updateRequest is the body of POST /v1/realtime.
type updateRequest struct {
	ClientID      string     `json:"clientId"`
	Subscriptions *[]subSpec `json:"subscriptions"`
}

// updateResponse answers POST /v1/realtime.
type updateResponse struct {
	ClientID      string    `json:"clientId"`
	Subscriptions []subSpec `json:"subscriptions"`
}

// connectData is the data of the SSE connect event.
type connectData struct {
	ClientID string `json:"clientId"`
}

// reasonData is the data of the SSE reset, overflow and expired events.
type reasonData struct {
	Reason string `json:"reason"`
}

// wsIn is a message from a WebSocket client.
type wsIn struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Topic  string `json:"topic,omitempty"`
	Filter string `json:"filter,omitempty"`
}

// wsOut is a server message other than a change.
type wsOut struct {
	Type     string   `json:"type"`
	ClientID string   `json:"clientId,omitempty"`
	Seq      *uint64  `json:"seq,omitempty"`
	ID       string   `json:"id,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Error    *wsError `json:"error,omitempty"`
}

// wsError carries the problem fields of a refused WebSocket request.
type wsError struct {
	Status int               `json:"status"`
	Code   string            `json:"code,omitempty"`
	Detail string            `json:"detail,omitempty"`
	Errors []errs.FieldError `json:"errors,omitempty"`
}

// mustJSON encodes a value whose encoding cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("realtime: " + err.Error())
	}
	return b
}
