package httpx_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

func TestParseListParams(t *testing.T) {
	tests := []struct {
		query      string
		want       httpx.ListParams
		wantFields []string // fields with errors; nil = success
	}{
		{"", httpx.ListParams{Limit: 30}, nil},
		{"?limit=10&cursor=abc", httpx.ListParams{Limit: 10, Cursor: "abc"}, nil},
		{"?limit=500", httpx.ListParams{Limit: 500}, nil},
		{"?limit=&cursor=", httpx.ListParams{Limit: 30}, nil},
		{"?page=3&perPage=20&count=true", httpx.ListParams{Limit: 20, Page: 3, Count: true}, nil},
		{"?perPage=5", httpx.ListParams{Limit: 5, Page: 1}, nil},
		{"?page=2", httpx.ListParams{Limit: 30, Page: 2}, nil},
		{"?count=1", httpx.ListParams{Limit: 30, Count: true}, nil},
		{"?limit=0", httpx.ListParams{}, []string{"limit"}},
		{"?limit=501", httpx.ListParams{}, []string{"limit"}},
		{"?limit=ten", httpx.ListParams{}, []string{"limit"}},
		{"?page=-1&perPage=1000", httpx.ListParams{}, []string{"perPage", "page"}},
		{"?page=2&cursor=abc", httpx.ListParams{}, []string{"cursor"}},
		{"?page=2&limit=5", httpx.ListParams{}, []string{"limit"}},
		{"?count=maybe", httpx.ListParams{}, []string{"count"}},
		{"?cursor=" + strings.Repeat("a", httpx.MaxCursorLen+1), httpx.ListParams{}, []string{"cursor"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := httpx.ParseListParams(httptest.NewRequest("GET", "/items"+tt.query, nil))
			if tt.wantFields == nil {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			e := errs.As(err)
			if e == nil || e.Kind != errs.Invalid || e.Code != "request.invalid_list_params" {
				t.Fatalf("err = %v, want invalid_list_params", err)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if !reflect.DeepEqual(fields, tt.wantFields) {
				t.Fatalf("error fields = %v, want %v", fields, tt.wantFields)
			}
		})
	}
	if p := (httpx.ListParams{Limit: 20, Page: 3}); p.Offset() != 40 || !p.Paged() {
		t.Fatalf("Offset = %d", p.Offset())
	}
}

type position struct {
	Created string `json:"c"`
	ID      string `json:"id"`
}

func TestCursorRoundTrip(t *testing.T) {
	in := position{Created: "2026-01-02T03:04:05Z", ID: "0190a1b2"}
	s := httpx.EncodeCursor(in)
	if strings.ContainsAny(s, "+/=") {
		t.Fatalf("cursor %q is not raw base64url", s)
	}
	var out position
	if err := httpx.DecodeCursor(s, &out); err != nil || out != in {
		t.Fatalf("DecodeCursor = %+v, %v", out, err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for name, bad := range map[string]string{
		"empty":          "",
		"not base64":     "!!!",
		"padded":         base64.URLEncoding.EncodeToString([]byte(`{"id":"x"}`)),
		"not json":       b64([]byte("hello")),
		"unknown field":  b64([]byte(`{"id":"x","admin":true}`)),
		"trailing data":  b64([]byte(`{"id":"x"} {}`)),
		"wrong type":     b64([]byte(`{"id":1}`)),
		"too long":       strings.Repeat("A", httpx.MaxCursorLen+1),
		"array not obj":  b64([]byte(`[]`)),
		"std base64 alt": base64.StdEncoding.EncodeToString([]byte(`{"id":"??>"}`)),
	} {
		var p position
		err := httpx.DecodeCursor(bad, &p)
		if errs.CodeOf(err) != "request.invalid_cursor" || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: err = %v, want request.invalid_cursor", name, err)
		}
	}
}

// FuzzDecodeCursor checks that any string either decodes to a position whose
// re-encoded cursor decodes to the same position, or fails cleanly.
func FuzzDecodeCursor(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{
		httpx.EncodeCursor(position{Created: "2026-01-02T03:04:05Z", ID: "0190a1b2"}),
		httpx.EncodeCursor(position{}), "", "e30", "bnVsbA", "!!", "e30=", "e30 ", "A",
		b64([]byte(`{"c":"\ud800","id":"\u0000"}`)), b64([]byte(`{"id":"x"}{}`)), b64([]byte(`{"ID":"case"}`)),
		b64([]byte(`{"id":1}`)), b64([]byte(`{"c":"a","c":"b"}`)), b64([]byte("{\"id\":\"\xff\"}")),
		strings.Repeat("A", httpx.MaxCursorLen+4),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p position
		if err := httpx.DecodeCursor(s, &p); err != nil {
			if errs.CodeOf(err) != "request.invalid_cursor" {
				t.Fatalf("%q: err = %v", s, err)
			}
			return
		}
		if b, _ := json.Marshal(p); base64.RawURLEncoding.EncodedLen(len(b)) > httpx.MaxCursorLen {
			// Decoding may lengthen a value (an invalid byte becomes U+FFFD);
			// EncodeCursor rightly refuses such a cursor.
			t.Skip()
		}
		var again position
		if err := httpx.DecodeCursor(httpx.EncodeCursor(p), &again); err != nil || again != p {
			t.Fatalf("%q: round trip gave %+v, %v; want %+v", s, again, err, p)
		}
	})
}
