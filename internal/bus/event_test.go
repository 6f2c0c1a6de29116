package bus_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bamhq/bam/internal/bus"
	"github.com/google/uuid"
)

type userCreated struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func TestEventRoundTrip(t *testing.T) {
	in := userCreated{ID: "u1", Email: "a@example.com"}
	ev, err := bus.NewEvent("auth", "bam.auth.user.created", "u1", in)
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(ev.ID())
	if err != nil || id.Version() != 7 {
		t.Errorf("id %q: want a UUIDv7 (err %v)", ev.ID(), err)
	}
	if ev.Time().Location() != time.UTC || time.Since(ev.Time()) > time.Minute {
		t.Errorf("time %v: want now, UTC", ev.Time())
	}
	data, err := bus.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"specversion":"1.0"`, `"type":"bam.auth.user.created"`, `"datacontenttype":"application/json"`, `"data":{"id":"u1"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("encoded %s: missing %s", data, want)
		}
	}
	out, err := bus.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var got userCreated
	if err := out.DataAs(&got); err != nil {
		t.Fatal(err)
	}
	if got != in || out.ID() != ev.ID() || out.Source() != "auth" || out.Subject() != "u1" || !out.Time().Equal(ev.Time()) {
		t.Errorf("round trip: got %+v %v, want %+v %v", got, out, in, ev)
	}
	if bus.ServiceOf(out.Type()) != "auth" {
		t.Errorf("ServiceOf(%q) = %q", out.Type(), bus.ServiceOf(out.Type()))
	}
}

func TestEventRawJSONData(t *testing.T) {
	ev, err := bus.NewEvent("auth", "bam.auth.user.deleted", "", []byte(`{"id":"u2"}`))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := bus.Encode(ev)
	if !strings.Contains(string(data), `"data":{"id":"u2"}`) {
		t.Errorf("raw JSON data not embedded as JSON: %s", data)
	}
}

func TestNewEventInvalid(t *testing.T) {
	for _, typ := range []string{"", "user.created", "bam.auth", "bam.Auth.user.created", "bam.auth.user.*", "bam.auth..created", "bam.auth.user created"} {
		if _, err := bus.NewEvent("auth", typ, "", nil); err == nil {
			t.Errorf("NewEvent type %q: want error", typ)
		}
	}
	if _, err := bus.NewEvent("", "bam.auth.user.created", "", nil); err == nil {
		t.Error("NewEvent without source: want error")
	}
}

func TestDecodeMalformed(t *testing.T) {
	for name, payload := range map[string]string{
		"not json":       `hello`,
		"empty object":   `{}`,
		"no id":          `{"specversion":"1.0","source":"auth","type":"bam.auth.user.created"}`,
		"no source":      `{"specversion":"1.0","id":"1","type":"bam.auth.user.created"}`,
		"old spec":       `{"specversion":"0.3","id":"1","source":"auth","type":"bam.auth.user.created"}`,
		"foreign type":   `{"specversion":"1.0","id":"1","source":"auth","type":"com.example.thing"}`,
		"wildcard type":  `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.>"}`,
		"truncated data": `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created","data":{"id"`,
		"trailing bytes": `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created"}garbage`,
		"two events":     `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created"}{}`,
		"single quotes":  `{'specversion':'1.0','id':'1','source':'auth','type':'bam.auth.user.created'}`,
		"bad escape":     `{"specversion":"1.0","id":"\x","source":"auth","type":"bam.auth.user.created"}`,
		"attribute case": `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created","dAtA":"0"}`,
		"trailing comma": "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"auth\",\"type\":\"bam.auth.user.created\",\"data\":{\"a\":1,}}",
		// sdk-go's reader stops at a member named "" and took what came
		// before as the whole event.
		"empty name": `{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created","":0,"type":"x"}`,
		"not object": `["specversion"]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := bus.Decode([]byte(payload))
			if !errors.Is(err, bus.ErrMalformed) {
				t.Errorf("Decode(%s) = %v, want ErrMalformed", payload, err)
			}
		})
	}
}

// FuzzDecode: any bytes from the bus decode to a valid event or to
// ErrMalformed, never a panic; what decodes encodes again and decodes to
// the same event. DecodeData, on the same bytes, fails with ErrMalformed
// only, and reads what Decode reads of an event with JSON data — unless
// its members are ambiguous (ambiguousMembers) or its bytes are not UTF-8,
// which sdk-go keeps and DecodeData replaces, as encoding/json does.
func FuzzDecode(f *testing.F) {
	ev, err := bus.NewEvent("auth", "bam.auth.user.created", "u1", userCreated{ID: "u1", Email: "a<b>&c@example.com"})
	if err != nil {
		f.Fatal(err)
	}
	good, err := bus.Encode(ev)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created","data":"x"}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created"} `))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"auth","type":"bam.auth.user.created","data":{"id":"u1"}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","datacontenttype":"text/plain","data":"x"}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data_base64":"eA=="}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data":{},"":0,"data_base64":"eA=="}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data":[1e400]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var payload json.RawMessage
		head, lightErr := bus.DecodeData(data, &payload)
		if lightErr != nil && !errors.Is(lightErr, bus.ErrMalformed) {
			t.Fatalf("DecodeData(%q) = %v, not ErrMalformed", data, lightErr)
		}
		ev, err := bus.Decode(data)
		if err == nil && ev.Data() != nil && !ev.DataBase64 && isJSONData(ev.DataContentType()) && !ambiguousMembers(data) && utf8.Valid(data) {
			if lightErr != nil {
				t.Fatalf("DecodeData(%q) = %v; Decode reads %v", data, lightErr, ev)
			}
			if head.ID != ev.ID() || head.Type != ev.Type() || !sameJSON(payload, ev.Data()) {
				t.Fatalf("DecodeData(%q) = %+v %s; Decode reads %v", data, head, payload, ev)
			}
		}
		if err != nil {
			if !errors.Is(err, bus.ErrMalformed) {
				t.Fatalf("Decode(%q) = %v, not ErrMalformed", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted invalid JSON %q", data)
		}
		again, err := bus.Encode(ev)
		if err != nil {
			t.Fatalf("Decode(%q) gave an event Encode refuses: %v", data, err)
		}
		back, err := bus.Decode(again)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v", data, err)
		}
		if back.ID() != ev.ID() || back.Type() != ev.Type() || back.Source() != ev.Source() ||
			back.Subject() != ev.Subject() || !bytes.Equal(back.Data(), ev.Data()) {
			t.Fatalf("round trip of %q changed the event: %v, then %v", data, ev, back)
		}
	})
}

// isJSONData says whether Decode's event with this data content type
// carries JSON data (no type: JSON).
func isJSONData(contentType string) bool {
	return contentType == "" || contentType == "application/json"
}

// sameJSON says whether two JSON texts are the same but for white space
// between tokens (numbers and strings compared as written).
func sameJSON(a, b []byte) bool {
	var x, y bytes.Buffer
	return json.Compact(&x, a) == nil && json.Compact(&y, b) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

// TestDecodeData reads an event's id, type and data in one pass, and
// refuses what is not a bam event with JSON data.
func TestDecodeData(t *testing.T) {
	ev, err := bus.NewEvent("auth", "bam.auth.user.created", "u1", userCreated{ID: "u1", Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := bus.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got userCreated
	head, err := bus.DecodeData(msg, &got)
	if err != nil || head.ID != ev.ID() || head.Type != "bam.auth.user.created" || got.Email != "a@example.com" {
		t.Fatalf("DecodeData = %+v %+v %v", head, got, err)
	}
	for _, bad := range []string{
		`{"specversion":"0.3","id":"1","source":"a","type":"bam.a.b","data":{}}`,
		`{"specversion":"1.0","source":"a","type":"bam.a.b","data":{}}`,
		`{"specversion":"1.0","id":"1","type":"bam.a.b","data":{}}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"other.a.b","data":{}}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b"}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data_base64":"e30="}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","datacontenttype":"text/plain","data":"x"}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data":{"id":7}}`,
		`{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","data":{}} x`,
		`{"specversion":"1.0","id":1,"source":"a","type":"bam.a.b","data":{}}`,
		`[]`,
	} {
		if _, err := bus.DecodeData([]byte(bad), &got); !errors.Is(err, bus.ErrMalformed) {
			t.Errorf("DecodeData(%s) = %v, want ErrMalformed", bad, err)
		}
	}
	ok := `{"specversion":"1.0","id":"1","source":"a","type":"bam.a.b","datacontenttype":"application/cloudevents+json; charset=utf-8","data":{"id":"x"}}`
	if _, err := bus.DecodeData([]byte(ok), &got); err != nil || got.ID != "x" {
		t.Errorf("DecodeData(%s) = %v, %+v", ok, err, got)
	}
}

// ambiguousMembers says whether the JSON object msg names a member twice
// (JSON leaves which one counts open).
func ambiguousMembers(msg []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(msg, &members) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	depth, names := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return names != len(members)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		default:
			if _, isName := tok.(string); isName && depth == 1 && dec.More() {
				// A name at depth 1 is followed by its value: skip it.
				var v json.RawMessage
				if dec.Decode(&v) == nil {
					names++
				}
			}
		}
	}
}
