package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/telemetry"
	"github.com/bamhq/bam/internal/testenv"
)

// scenario is one request through a handler and what must come back.
type scenario struct {
	name        string
	method      string
	url         string
	body        string
	headers     map[string]string
	wantStatus  int
	wantType    string   // Content-Type media type; "" = don't check
	wantBody    []string // fragments that must appear
	notWantBody []string // fragments that must not appear
}

func (s scenario) run(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method, url := s.method, s.url
	if method == "" {
		method = http.MethodGet
		if s.body != "" {
			method = http.MethodPost
		}
	}
	if url == "" {
		url = "/"
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req := httptest.NewRequest(method, url, body)
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != s.wantStatus {
		t.Errorf("status = %d, want %d; body: %s", rec.Code, s.wantStatus, rec.Body)
	}
	if s.wantType != "" {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, s.wantType) {
			t.Errorf("Content-Type = %q, want %q", ct, s.wantType)
		}
	}
	for _, f := range s.wantBody {
		if !strings.Contains(rec.Body.String(), f) {
			t.Errorf("body lacks %q: %s", f, rec.Body)
		}
	}
	for _, f := range s.notWantBody {
		if strings.Contains(rec.Body.String(), f) {
			t.Errorf("body has %q: %s", f, rec.Body)
		}
	}
	return rec
}

// requestIDHandler adds the request id from ctx to each line, as
// telemetry's handler does in production.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := telemetry.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func newLogger() (*slog.Logger, *testenv.LogBuffer) {
	var b testenv.LogBuffer
	return slog.New(requestIDHandler{slog.NewJSONHandler(&b, nil)}), &b
}

func TestWriteErrorKinds(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user admin")
	tests := []struct {
		err        error
		wantStatus int
		wantBody   []string
	}{
		{errs.E(errs.Invalid, "content.validation_failed", "invalid record").WithField("title", "too_long", "at most 200 characters"), 400,
			[]string{`"type":"https://bam.dev/problems/content.validation_failed"`, `"title":"Bad Request"`, `"detail":"invalid record"`,
				`"errors":[{"field":"title","code":"too_long","message":"at most 200 characters"}]`}},
		{errs.E(errs.Unauthenticated, "auth.invalid_credentials", "wrong email or password"), 401, []string{`"code":"auth.invalid_credentials"`}},
		{errs.E(errs.Forbidden, "auth.forbidden", "no"), 403, []string{`"title":"Forbidden"`}},
		{errs.E(errs.NotFound, "content.record_not_found", "no such record"), 404, []string{`"status":404`}},
		{errs.E(errs.Conflict, "auth.email_taken", "taken"), 409, nil},
		{errs.E(errs.PreconditionFailed, "content.version_mismatch", "stale"), 412, nil},
		{errs.E(errs.TooLarge, "files.too_large", "big"), 413, nil},
		{errs.E(errs.UnsupportedMediaType, "request.unsupported_media_type", "json please"), 415, nil},
		{errs.E(errs.TooManyRequests, "auth.rate_limited", "slow down"), 429, nil},
		{errs.Wrap(secret, errs.Internal, "store.query_failed", "query users failed"), 500,
			[]string{`"detail":"An internal error occurred`, `"code":"store.query_failed"`}},
		{secret, 500, []string{`"type":"about:blank"`, `"title":"Internal Server Error"`}},
		{errs.E(errs.Unavailable, "bus.unavailable", "bus down"), 503, []string{`"detail":"bus down"`}},
		{context.DeadlineExceeded, 504, []string{`"title":"Gateway Timeout"`, `"type":"about:blank"`}},
		{context.Canceled, 499, []string{`"title":"Client Closed Request"`}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.err.Error(), "/", "_"), func(t *testing.T) {
			logger, logs := newLogger()
			h := httpx.Stack("test", logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				httpx.WriteError(w, r, tt.err)
			}))
			rec := scenario{
				url: "/v1/things/1?token=abc", headers: map[string]string{"X-Request-Id": "req-42"},
				wantStatus: tt.wantStatus, wantType: httpx.ContentTypeProblem,
				wantBody:    append(tt.wantBody, `"instance":"/v1/things/1"`, `"requestId":"req-42"`),
				notWantBody: []string{"pq:", "authentication failed", "admin", "token"},
			}.run(t, h)
			if tt.wantStatus == 500 {
				if l := logs.String(); !strings.Contains(l, "password authentication failed") || !strings.Contains(l, `"request_id":"req-42"`) {
					t.Errorf("internal error not logged with cause and request id: %s", l)
				}
			}
			var p httpx.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tt.wantStatus {
				t.Errorf("body %s does not decode to a problem with status %d: %v", rec.Body, tt.wantStatus, err)
			}
		})
	}
}

func TestUnmatchedRoutesAnswerProblems(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	logger, _ := newLogger()
	h := httpx.Stack("test", logger, mux)
	for _, s := range []scenario{
		{name: "match", url: "/v1/things/7", wantStatus: 200, wantType: "application/json", wantBody: []string{`{"id":"7"}`}},
		{name: "not found", url: "/nope", wantStatus: 404, wantType: httpx.ContentTypeProblem,
			wantBody: []string{`"code":"request.route_not_found"`, `https://bam.dev/problems/request.route_not_found`}},
		{name: "method not allowed", method: "DELETE", url: "/v1/things/7", wantStatus: 405, wantType: httpx.ContentTypeProblem,
			wantBody: []string{`"code":"request.method_not_allowed"`, `"title":"Method Not Allowed"`}},
	} {
		t.Run(s.name, func(t *testing.T) {
			rec := s.run(t, h)
			if s.wantStatus == 405 && !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestErrorFromResponseRoundTrips(t *testing.T) {
	orig := errs.E(errs.Invalid, "content.validation_failed", "invalid record").WithField("title", "required", "must not be empty")
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest("POST", "/x", nil), orig)
	got := httpx.ErrorFromResponse(rec.Result())
	if got.Kind != orig.Kind || got.Code != orig.Code || got.Message != orig.Message || len(got.Fields) != 1 || got.Fields[0] != orig.Fields[0] {
		t.Fatalf("got %+v, want %+v", got, orig)
	}

	plain := &http.Response{StatusCode: 502, Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader("<h1>bad</h1>"))}
	if e := httpx.ErrorFromResponse(plain); e.Kind != errs.Unavailable || e.Message != "Bad Gateway" {
		t.Fatalf("non-problem response gave %+v", e)
	}
}

func TestStatusTableCoversEveryKind(t *testing.T) {
	kinds := []errs.Kind{errs.Invalid, errs.Unauthenticated, errs.Forbidden, errs.NotFound, errs.Conflict,
		errs.PreconditionFailed, errs.TooLarge, errs.UnsupportedMediaType, errs.TooManyRequests,
		errs.Internal, errs.Unavailable, errs.Timeout, errs.Canceled}
	seen := map[int]bool{}
	for _, k := range kinds {
		s := httpx.Status(k)
		if seen[s] {
			t.Errorf("status %d used twice", s)
		}
		seen[s] = true
		if httpx.KindOfStatus(s) != k {
			t.Errorf("KindOfStatus(%d) = %s, want %s", s, httpx.KindOfStatus(s), k)
		}
	}
}
