package auth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/authn"
)

// keyUser signs up a user holding role "writer" (content.posts.read and
// .write) and returns their access token and id.
func (h *harness) keyUser(admin, email string) (access, id string) {
	h.t.Helper()
	h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "writer",
		"permissions": []string{"content.posts.read", "content.posts.write"}}, admin)
	h.signUp(email, pw)
	tok := h.signIn(email, pw).expect(h.t, 200, "").str("access_token")
	id = jwtClaims(h.t, tok)["sub"].(string)
	h.call("PUT", "/v1/auth/admin/users/"+id+"/roles", map[string]any{"roles": []string{"writer"}}, admin).
		expect(h.t, 200, "")
	return tok, id
}

// guarded is a service route needing perm, behind the shared middleware
// with an APIKeyVerifier asking the harness over HTTP.
func guarded(v *authn.Verifier, keys *authn.APIKeyVerifier, perm string) http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return authn.Middleware(v, keys)(authn.RequirePermission(perm)(ok))
}

func status(h http.Handler, key string) int {
	req := httptest.NewRequest("GET", "/thing", nil)
	req.Header.Set("X-API-Key", key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestAPIKeys(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		access, userID := h.keyUser(admin, "keys@example.com")

		h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{"files.avatars.read"}},
			access).expect(t, 403, "auth.permission_not_held")
		h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{"content.*"}},
			access).expect(t, 403, "auth.permission_not_held")
		h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{"nope!"}},
			access).expect(t, 400, "auth.invalid_permission")
		made := h.call("POST", "/v1/auth/keys", map[string]any{"name": "ci", "permissions": []string{"content.posts.read"}},
			access).expect(t, 201, "")
		key, keyID := made.str("key"), made.str("id")
		if !strings.HasPrefix(key, "bam_") || !strings.HasPrefix(key, made.str("prefix")+"_") || len(made.str("prefix")) != 12 {
			t.Fatalf("key = %s", made.Raw)
		}
		list := h.call("GET", "/v1/auth/keys", nil, access).expect(t, 200, "")
		if items := asSlice(list.Body["items"]); len(items) != 1 || strings.Contains(list.Raw, key) ||
			items[0].(map[string]any)["prefix"] != made.str("prefix") {
			t.Fatalf("list = %s", list.Raw)
		}

		// The verification endpoint's contract, as authn reads it.
		check := h.call("POST", "/v1/auth/keys/verify", map[string]any{"key": key}, "").expect(t, 200, "")
		if check.str("subject") != userID || check.str("keyId") != keyID ||
			!slices.Equal(strs(check.Body["permissions"]), []string{"content.posts.read"}) {
			t.Fatalf("verify = %s", check.Raw)
		}
		h.call("POST", "/v1/auth/keys/verify", map[string]any{"key": "bam_nope"}, "").expect(t, 401, "auth.token_invalid")

		// A service allows and denies by the key's scope.
		keys, err := authn.NewAPIKeyVerifier(authn.APIKeyOptions{Endpoint: h.URL + "/v1/auth/keys/verify",
			TTL: time.Second, Clock: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		read := guarded(h.svc.Verifier(), keys, "content.posts.read")
		write := guarded(h.svc.Verifier(), keys, "content.posts.write")
		if got := status(read, key); got != 204 {
			t.Fatalf("read with a read key: %d", got)
		}
		if got := status(write, key); got != 403 {
			t.Fatalf("write with a read key: %d", got)
		}

		// The auth service takes keys too, but a key cannot mint keys or act as admin.
		h.call("GET", "/v1/auth/keys", nil, key).expect(t, 403, "auth.api_key_forbidden")
		h.call("GET", "/v1/auth/admin/users", nil, key).expect(t, 403, "auth.forbidden")

		// Revoked: still cached for the TTL, rejected after it.
		h.call("DELETE", "/v1/auth/keys/"+keyID, nil, access).expect(t, 204, "")
		// What was opened with the key (realtime connections) ends on this.
		var revoked auth.APIKeyRevokedEvent
		if err := h.awaitEvent(auth.EventAPIKeyRevoked, keyID).DataAs(&revoked); err != nil || revoked.KeyID != keyID {
			t.Fatalf("api_key.revoked: %+v, %v", revoked, err)
		}
		h.call("DELETE", "/v1/auth/keys/"+keyID, nil, access).expect(t, 404, "auth.api_key_not_found")
		if got := status(read, key); got != 204 {
			t.Fatalf("within the cache TTL: %d", got)
		}
		h.clock.Advance(2 * time.Second)
		if got := status(read, key); got != 401 {
			t.Fatalf("revoked key after the cache TTL: %d", got)
		}
		h.call("POST", "/v1/auth/keys/verify", map[string]any{"key": key}, "").expect(t, 401, "auth.token_invalid")
	})
}

// TestAPIKeyFollowsItsOwner: a key expires, loses what its owner loses, and
// dies with a disabled owner.
func TestAPIKeyFollowsItsOwner(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		access, userID := h.keyUser(admin, "owner@example.com")
		h.call("POST", "/v1/auth/keys", map[string]any{"name": "old", "permissions": []string{},
			"expiresAt": h.clock.Now().Add(-time.Minute)}, access).expect(t, 400, "auth.invalid_expiry")
		expiring := h.call("POST", "/v1/auth/keys", map[string]any{"name": "short", "permissions": []string{"content.posts.write"},
			"expiresAt": h.clock.Now().Add(time.Hour)}, access).expect(t, 201, "").str("key")
		lasting := h.call("POST", "/v1/auth/keys", map[string]any{"name": "long", "permissions": []string{"content.posts.write"}},
			access).expect(t, 201, "").str("key")
		verify := func(key string) response {
			return h.call("POST", "/v1/auth/keys/verify", map[string]any{"key": key}, "")
		}
		if r := verify(expiring).expect(t, 200, ""); r.str("expiresAt") == "" {
			t.Fatalf("verify = %s", r.Raw)
		}
		h.clock.Advance(2 * time.Hour)
		verify(expiring).expect(t, 401, "auth.token_invalid")
		admin = h.signIn(adminEmail, pw).expect(t, 200, "").str("access_token") // the old one expired

		h.call("PUT", "/v1/auth/admin/users/"+userID+"/roles", map[string]any{"roles": []string{}}, admin).expect(t, 200, "")
		if r := verify(lasting).expect(t, 200, ""); len(strs(r.Body["permissions"])) != 0 {
			t.Fatalf("key kept a permission its owner lost: %s", r.Raw)
		}
		h.call("PATCH", "/v1/auth/admin/users/"+userID, map[string]any{"disabled": true}, admin).expect(t, 200, "")
		verify(lasting).expect(t, 401, "auth.token_invalid")
	})
}

func TestClientCredentials(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "reporter",
			"permissions": []string{"analytics.read", "content.posts.read"}}, admin).expect(t, 201, "")
		c := h.call("POST", "/v1/auth/admin/clients", map[string]any{"name": "nightly report", "roles": []string{"reporter"}},
			admin).expect(t, 201, "")
		id, secret := c.str("id"), c.str("secret")
		if id == "" || !strings.HasPrefix(secret, "bamcs_") {
			t.Fatalf("client = %s", c.Raw)
		}
		if l := h.call("GET", "/v1/auth/admin/clients", nil, admin).expect(t, 200, ""); strings.Contains(l.Raw, secret) {
			t.Fatalf("list shows the secret: %s", l.Raw)
		}

		basic := func(id, secret string, form url.Values) response {
			req, _ := http.NewRequest("POST", h.URL+"/v1/auth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			return h.do(req)
		}
		grant := url.Values{"grant_type": {"client_credentials"}}
		tok := basic(id, secret, grant).expect(t, 200, "")
		claims := jwtClaims(t, tok.str("access_token"))
		if claims["kind"] != "service" || claims["sub"] != id || claims["sid"] != nil || tok.str("refresh_token") != "" ||
			!slices.Equal(strs(claims["permissions"]), []string{"analytics.read", "content.posts.read"}) {
			t.Fatalf("token = %s\nclaims = %v", tok.Raw, claims)
		}
		// The body works as well as Basic; scope narrows.
		narrow := h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
			"client_secret": {secret}, "scope": {"analytics.read"}}, "").expect(t, 200, "")
		if c := jwtClaims(t, narrow.str("access_token")); !slices.Equal(strs(c["permissions"]), []string{"analytics.read"}) ||
			len(strs(c["roles"])) != 0 {
			t.Fatalf("narrowed token: permissions %v, roles %v; want the scope only", c["permissions"], c["roles"])
		}
		// Nor can the narrowed token mint a key wider than itself.
		h.call("POST", "/v1/auth/keys", map[string]any{"name": "wider", "permissions": []string{"content.posts.read"}},
			narrow.str("access_token")).expect(t, 403, "auth.permission_not_held")
		h.call("POST", "/v1/auth/keys", map[string]any{"name": "as narrow", "permissions": []string{"analytics.read"}},
			narrow.str("access_token")).expect(t, 201, "")
		h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
			"client_secret": {secret}, "scope": {"admin"}}, "").expect(t, 400, "auth.invalid_scope")

		for name, r := range map[string]response{
			"wrong secret":   basic(id, secret+"x", grant),
			"unknown client": basic("nobody", secret, grant),
			"no secret": h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"client_credentials"},
				"client_id": {id}}, ""),
		} {
			if r.Status != 401 || r.str("error") != "invalid_client" || r.str("code") != "auth.invalid_client" {
				t.Errorf("%s: %d %s", name, r.Status, r.Raw)
			}
		}

		// A service token works on the service's own routes; deleting the
		// account revokes it.
		svc := tok.str("access_token")
		h.call("GET", "/v1/auth/keys", nil, svc).expect(t, 200, "")
		h.call("DELETE", "/v1/auth/admin/clients/"+id, nil, admin).expect(t, 204, "")
		h.call("GET", "/v1/auth/keys", nil, svc).expect(t, 401, "auth.token_revoked")
		basic(id, secret, grant).expect(t, 401, "auth.invalid_client")
	})
}

// do sends req and decodes the answer like call.
func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw strings.Builder
	_, _ = io.Copy(&raw, resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw.String()}
	_ = json.Unmarshal([]byte(out.Raw), &out.Body)
	return out
}
