package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/bus"
)

const adminEmail = "root@example.com"

// adminToken makes an administrator (as `bam admin create` does) and
// returns their access token.
func (h *harness) adminToken() string {
	h.t.Helper()
	if _, err := h.svc.EnsureAdmin(context.Background(), adminEmail, pw); err != nil {
		h.t.Fatal(err)
	}
	return h.signIn(adminEmail, pw).expect(h.t, 200, "").str("access_token")
}

// jwtClaims decodes a token's payload, unverified: the service checks
// signatures, tests read what was signed.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// strs turns a JSON array into strings.
func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// awaitEvent waits for an event of type typ about subject on the auth stream.
func (h *harness) awaitEvent(typ, subject string) bus.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := h.bus.JetStream().OrderedConsumer(ctx, bus.StreamName("auth"),
		jetstream.OrderedConsumerConfig{FilterSubjects: []string{typ}})
	if err != nil {
		h.t.Fatal(err)
	}
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		ev, err := bus.Decode(msg.Data())
		if err == nil && ev.Subject() == subject {
			return ev
		}
	}
	h.t.Fatalf("no %s event about %s", typ, subject)
	return bus.Event{}
}

func TestAdminNeedsAdminPermission(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("pleb@example.com", pw)
		pleb := h.signIn("pleb@example.com", pw).expect(t, 200, "").str("access_token")
		admin := h.adminToken()
		for _, path := range []string{"/v1/auth/admin/users", "/v1/auth/admin/roles", "/v1/auth/admin/clients",
			"/v1/auth/admin/audit"} {
			h.call("GET", path, nil, "").expect(t, 401, "auth.token_missing")
			h.call("GET", path, nil, pleb).expect(t, 403, "auth.forbidden")
			h.call("GET", path, nil, admin).expect(t, 200, "")
		}
		h.call("POST", "/v1/auth/admin/users", map[string]any{"email": "x@example.com"}, pleb).expect(t, 403, "auth.forbidden")
	})
}

func TestAdminUsers(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		adminID := jwtClaims(t, admin)["sub"].(string)
		created := h.call("POST", "/v1/auth/admin/users", map[string]any{"email": "Made@Example.com", "password": pw,
			"emailVerified": true, "appData": map[string]any{"plan": "pro"}}, admin).expect(t, 201, "")
		id := created.str("id")
		if created.str("email") != "made@example.com" || created.Body["emailVerified"] != true {
			t.Fatalf("created = %s", created.Raw)
		}
		h.call("POST", "/v1/auth/admin/users", map[string]any{"email": "made@example.com"}, admin).
			expect(t, 409, "auth.email_taken")
		for _, e := range []string{"a1@example.com", "a2@example.com", "b1@example.org"} {
			h.signUp(e, pw)
		}

		// Search, then page through the matches one at a time.
		var seen []string
		cursor := ""
		for range 5 {
			q := url.Values{"search": {"EXAMPLE.COM"}, "limit": {"1"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			page := h.call("GET", "/v1/auth/admin/users?"+q.Encode(), nil, admin).expect(t, 200, "")
			for _, it := range asSlice(page.Body["items"]) {
				seen = append(seen, it.(map[string]any)["email"].(string))
			}
			if cursor = page.str("nextCursor"); cursor == "" {
				break
			}
		}
		if strings.Join(seen, ",") != adminEmail+",made@example.com,a1@example.com,a2@example.com" {
			t.Fatalf("search pages = %v", seen)
		}
		counted := h.call("GET", "/v1/auth/admin/users?search=_&count=true", nil, admin).expect(t, 200, "")
		if counted.Body["totalItems"] != float64(0) { // _ is literal, not LIKE's wildcard
			t.Fatalf("search _ = %s", counted.Raw)
		}

		got := h.call("GET", "/v1/auth/admin/users/"+id, nil, admin).expect(t, 200, "")
		if d, _ := got.Body["appData"].(map[string]any); d["plan"] != "pro" {
			t.Fatalf("get = %s", got.Raw)
		}
		h.call("GET", "/v1/auth/admin/users/nope", nil, admin).expect(t, 404, "auth.user_not_found")

		// Disabling signs the user out everywhere at once, and keeps them out.
		tok := h.signIn("made@example.com", pw).expect(t, 200, "")
		h.call("GET", "/v1/auth/user", nil, tok.str("access_token")).expect(t, 200, "")
		h.call("PATCH", "/v1/auth/admin/users/"+id, map[string]any{"disabled": true}, admin).expect(t, 200, "")
		h.call("GET", "/v1/auth/user", nil, tok.str("access_token")).expect(t, 401, "auth.token_revoked")
		h.refresh(tok.str("refresh_token")).expect(t, 400, "auth.refresh_token_invalid")
		h.signIn("made@example.com", pw).expect(t, 400, "auth.invalid_credentials")
		h.awaitEvent(auth.EventSessionRevoked, id)
		h.clock.Advance(2 * time.Second) // a later sign-in is not covered by the revocation
		h.call("PATCH", "/v1/auth/admin/users/"+id, map[string]any{"disabled": false, "email": "remade@example.com"},
			admin).expect(t, 200, "")
		again := h.signIn("remade@example.com", pw).expect(t, 200, "")
		h.call("GET", "/v1/auth/user", nil, again.str("access_token")).expect(t, 200, "")

		// An admin can end someone's sessions without disabling them.
		h.call("DELETE", "/v1/auth/admin/users/"+id+"/sessions", nil, admin).expect(t, 204, "")
		h.call("GET", "/v1/auth/user", nil, again.str("access_token")).expect(t, 401, "auth.token_revoked")

		// Deleting announces user.deleted, for the other services to erase.
		h.call("DELETE", "/v1/auth/admin/users/"+id, nil, admin).expect(t, 204, "")
		h.call("GET", "/v1/auth/admin/users/"+id, nil, admin).expect(t, 404, "auth.user_not_found")
		ev := h.awaitEvent(auth.EventUserDeleted, id)
		var data auth.UserEvent
		if err := ev.DataAs(&data); err != nil || data.ID != id {
			t.Fatalf("user.deleted data = %+v, %v", data, err)
		}

		// The audit trail says who did it.
		audit := h.call("GET", "/v1/auth/admin/audit?action=user.deleted&actor="+adminID, nil, admin).expect(t, 200, "")
		items := asSlice(audit.Body["items"])
		if len(items) != 1 || items[0].(map[string]any)["target"] != id {
			t.Fatalf("audit = %s", audit.Raw)
		}
		first := h.call("GET", "/v1/auth/admin/audit?limit=2", nil, admin).expect(t, 200, "")
		next := h.call("GET", "/v1/auth/admin/audit?limit=2&cursor="+first.str("nextCursor"), nil, admin).expect(t, 200, "")
		a, b := asSlice(first.Body["items"]), asSlice(next.Body["items"])
		if len(a) != 2 || len(b) != 2 || a[1].(map[string]any)["id"].(string) <= b[0].(map[string]any)["id"].(string) {
			t.Fatalf("audit pages not newest first:\n%s\n%s", first.Raw, next.Raw)
		}
	})
}

// TestFirstAdmin: a fresh setup gets one administrator with a password
// printed once; a setup with one gets nothing.
func TestFirstAdmin(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		var out strings.Builder
		if err := h.svc.BootstrapAdmin(context.Background(), "https://api.example.com", &out); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`email: +(\S+)\n +password: +(\S+)`).FindStringSubmatch(out.String())
		if m == nil || m[1] != "admin@api.example.com" {
			t.Fatalf("printed %q", out.String())
		}
		tok := h.signIn(m[1], m[2]).expect(t, 200, "").str("access_token")
		h.call("GET", "/v1/auth/admin/users", nil, tok).expect(t, 200, "")

		out.Reset()
		if err := h.svc.BootstrapAdmin(context.Background(), "https://api.example.com", &out); err != nil || out.Len() != 0 {
			t.Fatalf("second start: %q, %v", out.String(), err)
		}
	})
}
