package realtime

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// envelope is a published change with its encodings, made once and shared
// by every connection it is delivered to.
type envelope struct {
	change Change
	at     time.Time

	once sync.Once
	// sseHead and wsHead are the change's JSON up to the value of
	// "subscriptions", which differs per connection; nil when the record
	// could not be encoded.
	sseHead, wsHead []byte
}

// heads encodes the change on first use. After it, sseHead and wsHead
// may be read directly.
func (e *envelope) heads(h *Hub) (sse, ws []byte) {
	e.once.Do(func() {
		c := &e.change
		rec, err := json.Marshal(c.Record)
		if err != nil {
			droppedEncode.Inc()
			h.logf("realtime: cannot encode record", "collection", c.Collection, "id", c.ID, "error", err)
			return
		}
		common := appendField(nil, "action", c.Action)
		common = append(common, ',')
		common = appendField(common, "collection", c.Collection)
		common = append(common, ',')
		common = appendField(common, "id", c.ID)
		common = append(common, `,"record":`...)
		common = append(common, rec...)
		common = append(common, `,"subscriptions":`...)

		e.sseHead = append(append(make([]byte, 0, len(common)+1), '{'), common...)
		ws := append(make([]byte, 0, len(common)+40), `{"type":"change","seq":`...)
		ws = strconv.AppendUint(ws, c.Seq, 10)
		e.wsHead = append(append(ws, ','), common...)
	})
	return e.sseHead, e.wsHead
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
