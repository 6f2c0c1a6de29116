package httpx_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

type item struct {
	Title string              `json:"title"`
	Qty   int                 `json:"qty"`
	Price float64             `json:"price"`
	Tags  []string            `json:"tags"`
	Meta  map[string]any      `json:"meta"`
	Dims  *struct{ W, H int } `json:"dims"`
	At    *time.Time          `json:"at"`
	OK    bool                `json:"ok"`
}

func decodeHandler(opts httpx.DecodeOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var it item
		if err := httpx.DecodeJSONWith(w, r, &it, opts); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		_ = httpx.WriteJSON(w, http.StatusOK, it)
	})
}

func TestDecodeJSON(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	big := `{"title":"` + strings.Repeat("x", 2<<10) + `"}`
	tests := []struct {
		scenario
		opts httpx.DecodeOptions
	}{
		{scenario: scenario{name: "ok", body: `{"title":"a","qty":2,"tags":["x"],"dims":{"W":1,"H":2}}`, headers: jsonCT,
			wantStatus: 200, wantBody: []string{`"title":"a"`, `"qty":2`}}},
		{scenario: scenario{name: "ok with charset and whitespace", body: " {\"qty\":1} \n\t", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			wantStatus: 200}},
		{scenario: scenario{name: "ok with +json type", body: `{"qty":1}`, headers: map[string]string{"Content-Type": "application/merge-patch+json"},
			wantStatus: 200}},
		{scenario: scenario{name: "no content type", body: `{}`,
			wantStatus: 415, wantBody: []string{`"code":"request.unsupported_media_type"`}}},
		{scenario: scenario{name: "form content type", body: `a=b`, headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			wantStatus: 415}},
		{scenario: scenario{name: "empty body", headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.empty_body"`}}},
		{scenario: scenario{name: "whitespace only", body: "  \n", headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.empty_body"`}}},
		{scenario: scenario{name: "syntax error", body: `{"title":}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.invalid_json"`, `at byte 10`}}},
		{scenario: scenario{name: "truncated", body: `{"title":"a"`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.invalid_json"`, `ends in the middle`}}},
		{scenario: scenario{name: "trailing value", body: `{} {}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.invalid_json"`, `data after it`}}},
		{scenario: scenario{name: "trailing garbage", body: `{}x`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.invalid_json"`}}},
		{scenario: scenario{name: "unknown field", body: `{"title":"a","colour":"red"}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.unknown_field"`, `"field":"colour"`}}},
		{scenario: scenario{name: "unknown field allowed", body: `{"title":"a","colour":"red"}`, headers: jsonCT, wantStatus: 200},
			opts: httpx.DecodeOptions{AllowUnknownFields: true}},
		{scenario: scenario{name: "type mismatch", body: `{"qty":"two"}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.type_mismatch"`, `"field":"qty"`, `expected an integer, got string`}}},
		{scenario: scenario{name: "nested type mismatch", body: `{"dims":{"W":true}}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"field":"dims.W"`, `expected an integer, got bool`}}},
		{scenario: scenario{name: "fraction into int", body: `{"qty":1.5}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.type_mismatch"`, `got number 1.5`}}},
		{scenario: scenario{name: "top-level array", body: `[1]`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.type_mismatch"`, `expected an object, got array`}}},
		{scenario: scenario{name: "bad time", body: `{"at":"yesterday"}`, headers: jsonCT,
			wantStatus: 400, wantBody: []string{`"code":"request.invalid_value"`}}},
		{scenario: scenario{name: "too large by content length", body: big, headers: jsonCT,
			wantStatus: 413, wantBody: []string{`"code":"request.too_large"`, `1024 bytes`}},
			opts: httpx.DecodeOptions{MaxBytes: 1024}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.run(t, decodeHandler(tt.opts))
			if tt.wantStatus >= 400 && rec.Header().Get("Content-Type") != httpx.ContentTypeProblem {
				t.Errorf("error answered with %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestDecodeJSONTooLargeWithoutContentLength(t *testing.T) {
	// A chunked body has no Content-Length; the limit must hold while reading,
	// including in the trailing-data check.
	for _, body := range []string{`{"title":"` + strings.Repeat("x", 4096) + `"}`, `{}` + strings.Repeat(" ", 4096)} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		var it item
		err := httpx.DecodeJSONWith(httptest.NewRecorder(), req, &it, httpx.DecodeOptions{MaxBytes: 1024})
		if errs.KindOf(err) != errs.TooLarge {
			t.Errorf("len %d: err = %v, want TooLarge", len(body), err)
		}
	}
}

type validated string

func (v *validated) UnmarshalJSON(b []byte) error {
	if string(b) != `"ok"` {
		return errs.E(errs.Invalid, "test.not_ok", "must be ok").WithField("v", "not_ok", "must be ok")
	}
	*v = "ok"
	return nil
}

func TestDecodeJSONPassesThroughUnmarshalerErrors(t *testing.T) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"v":"no"}`))
	req.Header.Set("Content-Type", "application/json")
	var dst struct{ V validated }
	err := httpx.DecodeJSON(nil, req, &dst)
	if errs.CodeOf(err) != "test.not_ok" {
		t.Fatalf("err = %v", err)
	}
	if errs.KindOf(httpx.DecodeJSON(nil, req, dst)) != errs.Internal {
		t.Fatal("a non-pointer dst is a programming error")
	}
}

// FuzzDecodeJSON checks that any body either decodes to a value that survives
// an encode/decode round trip, or fails with a client error; never a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"title":"a","qty":2,"price":1.5,"tags":["x","y"],"meta":{"k":[1,{"z":null}]},"dims":{"W":1,"H":2},"at":"2026-01-02T03:04:05Z","ok":true}`,
		`{}`, `null`, ``, ` `, `[]`, `"s"`, `{"qty":1e400}`, `{"qty":-0}`, `{"price":-0.0}`, `{"title":"\ud800"}`,
		`{"title":"a"} {"title":"b"}`, `{"title":"a"}x`, `{"colour":1}`, `{"Title":"case"}`, `{"qty":"1"}`,
		`{"tags":[1]}`, `{"meta":{"a":{"b":{"c":[[[[]]]]}}}}`, `{"title":"\u0000"}`, "{\"title\":\"\xff\"}",
		`{"at":"nope"}`, `{"dims":null}`, `{"title":"a","title":"b"}`, strings.Repeat("[", 200),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		var got item
		err := httpx.DecodeJSONWith(httptest.NewRecorder(), req, &got, httpx.DecodeOptions{MaxBytes: 4096})
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code == "" || (e.Kind != errs.Invalid && e.Kind != errs.TooLarge) {
				t.Fatalf("body %q: err = %#v, want a client *errs.Error with a code", body, err)
			}
			return
		}
		enc, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		req = httptest.NewRequest("POST", "/", strings.NewReader(string(enc)))
		req.Header.Set("Content-Type", "application/json")
		var again item
		if err := httpx.DecodeJSON(httptest.NewRecorder(), req, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if !reflect.DeepEqual(normalizeTime(got), normalizeTime(again)) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", got, again)
		}
	})
}

// normalizeTime drops the monotonic and location details that JSON cannot
// carry, keeping the instant.
func normalizeTime(it item) item {
	if it.At != nil {
		t := it.At.UTC()
		it.At = &t
	}
	return it
}

// TestWriteJSONMatchesEncodingJSON: WriteJSON's encoder writes the bytes
// encoding/json would, for the shapes responses carry.
func TestWriteJSONMatchesEncodingJSON(t *testing.T) {
	total := int64(42)
	when := time.Date(2026, 11, 29, 1, 2, 3, 4000, time.UTC)
	for i, v := range []any{
		map[string]any{"b": 1.5, "a": "x", "c": nil, "d": []any{true, false, 0.0, -0.0, 1e21, 1e-7, 123456789.0}},
		map[string]any{"html": "<script>&'\"</script>", "ctl": "\x00\x1f\u2028\u2029", "uni": "Café 日本 😀", "bad": "\xff"},
		struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"nextCursor,omitempty"`
			TotalItems *int64           `json:"totalItems,omitempty"`
			When       time.Time        `json:"when"`
			Raw        json.RawMessage  `json:"raw"`
			Skip       string           `json:"-"`
			Bytes      []byte           `json:"bytes"`
		}{Items: []map[string]any{{"id": "1", "n": map[string]any{"z": 1, "y": []string{"q"}}}}, TotalItems: &total,
			When: when, Raw: json.RawMessage(`{"k": [1, 2]}`), Skip: "no", Bytes: []byte("hi")},
		[]any{},
		map[string]any{},
		"plain",
		int64(-1 << 62),
		uint64(1 << 63),
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		if err := httpx.WriteJSON(rec, 200, v); err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if got := strings.TrimSuffix(rec.Body.String(), "\n"); got != string(want) {
			t.Errorf("value %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if err := httpx.WriteJSON(httptest.NewRecorder(), 200, math.NaN()); err == nil {
		t.Error("NaN encoded without an error")
	}
}
