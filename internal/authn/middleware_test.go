package authn_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/testenv"
)

func TestMiddleware(t *testing.T) {
	c := testenv.NewClock(time.Now())
	ed := newEd25519(t, "ed-1")
	v := newVerifier(t, newJWKSServer(t, ed), c, nil)
	keys := newAPIKeyVerifier(t, newKeyServer(t), c)

	mux := http.NewServeMux()
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := authn.FromContext(r.Context()); ok {
			_, _ = io.WriteString(w, string(p.Kind)+":"+p.Subject)
			return
		}
		_, _ = io.WriteString(w, "anonymous")
	})
	mux.Handle("GET /public", whoami)
	mux.Handle("GET /me", authn.RequireAuth(whoami))
	mux.Handle("POST /posts", authn.RequirePermission("content.posts.write")(whoami))
	mux.Handle("GET /admin", authn.RequireRole("admin", "owner")(whoami))
	withKeys := authn.Middleware(v, keys)(mux)
	withoutKeys := authn.Middleware(v, nil)(mux)

	now := c.Now()
	user := "Bearer " + sign(t, ed, userClaims(now))
	reader := "Bearer " + sign(t, ed, with(userClaims(now), "permissions", []string{"content.posts.read"}))
	admin := "Bearer " + sign(t, ed, with(userClaims(now), "roles", []string{"owner"}, "permissions", []string{"admin"}))
	expired := "Bearer " + sign(t, ed, with(userClaims(now), "exp", now.Add(-time.Hour).Unix()))
	const invalidToken = `Bearer error="invalid_token"`

	tests := []struct {
		name      string
		handler   http.Handler
		method    string
		path      string
		header    map[string]string
		status    int
		code      string // problem code; "" for a success
		challenge string // WWW-Authenticate
		body      string // success body
	}{
		{"anonymous public", withKeys, "GET", "/public", nil, 200, "", "", "anonymous"},
		{"anonymous needs auth", withKeys, "GET", "/me", nil, 401, "auth.token_missing", "Bearer", ""},
		{"anonymous needs permission", withKeys, "POST", "/posts", nil, 401, "auth.token_missing", "Bearer", ""},
		{"user", withKeys, "GET", "/me", map[string]string{"Authorization": user}, 200, "", "", "user:usr_1"},
		{"lower-case scheme", withKeys, "GET", "/me", map[string]string{"Authorization": "bearer " + user[7:]}, 200, "", "", "user:usr_1"},
		{"pattern grants permission", withKeys, "POST", "/posts", map[string]string{"Authorization": user}, 200, "", "", "user:usr_1"},
		{"lacks permission", withKeys, "POST", "/posts", map[string]string{"Authorization": reader}, 403, "auth.forbidden", `Bearer error="insufficient_scope"`, ""},
		{"lacks role", withKeys, "GET", "/admin", map[string]string{"Authorization": user}, 403, "auth.forbidden", `Bearer error="insufficient_scope"`, ""},
		{"admin", withKeys, "POST", "/posts", map[string]string{"Authorization": admin}, 200, "", "", "user:usr_1"},
		{"one of the roles", withKeys, "GET", "/admin", map[string]string{"Authorization": admin}, 200, "", "", "user:usr_1"},
		{"expired even on a public route", withKeys, "GET", "/public", map[string]string{"Authorization": expired}, 401, "auth.token_expired", invalidToken, ""},
		{"garbage", withKeys, "GET", "/public", map[string]string{"Authorization": "Bearer abc"}, 401, "auth.token_malformed", invalidToken, ""},
		{"empty bearer", withKeys, "GET", "/public", map[string]string{"Authorization": "Bearer "}, 401, "auth.token_malformed", invalidToken, ""},
		{"other scheme ignored", withKeys, "GET", "/public", map[string]string{"Authorization": "Basic dTpw"}, 200, "", "", "anonymous"},
		{"other scheme is not auth", withKeys, "GET", "/me", map[string]string{"Authorization": "Basic dTpw"}, 401, "auth.token_missing", "Bearer", ""},
		{"api key header", withKeys, "POST", "/posts", map[string]string{"X-API-Key": "bam_live_1"}, 200, "", "", "apikey:svc_importer"},
		{"api key as bearer", withKeys, "POST", "/posts", map[string]string{"Authorization": "Bearer bam_live_1"}, 200, "", "", "apikey:svc_importer"},
		{"unknown api key", withKeys, "GET", "/public", map[string]string{"X-API-Key": "bam_nope"}, 401, "auth.token_invalid", invalidToken, ""},
		{"api key header not a key", withKeys, "GET", "/public", map[string]string{"X-API-Key": "hunter2"}, 401, "auth.token_malformed", invalidToken, ""},
		{"two credentials", withKeys, "GET", "/public", map[string]string{"Authorization": user, "X-API-Key": "bam_live_1"}, 401, "auth.token_malformed", invalidToken, ""},
		{"api keys not accepted", withoutKeys, "GET", "/public", map[string]string{"X-API-Key": "bam_live_1"}, 401, "auth.token_invalid", invalidToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.status, body)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.code == "" {
				if string(body) != tt.body {
					t.Errorf("body = %q, want %q", body, tt.body)
				}
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != httpx.ContentTypeProblem {
				t.Errorf("Content-Type = %q", ct)
			}
			var p httpx.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem: %v: %s", err, body)
			}
			if p.Code != tt.code || p.Status != tt.status {
				t.Errorf("problem = %+v, want code %s", p, tt.code)
			}
			if strings.Contains(string(body), "kid") || strings.Contains(string(body), "signature") {
				t.Errorf("problem leaks the cause: %s", body)
			}
		})
	}
}
