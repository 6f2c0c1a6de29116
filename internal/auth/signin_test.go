package auth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestSignInForgivesAccountFailures: a successful sign-in clears the
// account's failure count (only when it has one: CheckKnown), so the
// account's owner starts over; without the success, the same number of
// failures blocks it.
func TestSignInForgivesAccountFailures(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.signUp("owner@example.com", pw)
		n := 0
		signIn := func(password string) response { // each from its own address: the IP key stays out of it
			n++
			return h.callFrom(fmt.Sprintf("198.51.100.%d", n), "POST", "/v1/auth/token",
				map[string]any{"grant_type": "password", "username": "owner@example.com", "password": password})
		}
		for range 4 {
			signIn("wrong password").expect(t, 400, "auth.invalid_credentials")
		}
		signIn(pw).expect(t, 200, "")
		signIn(pw).expect(t, 200, "") // nothing to forgive
		for range 4 {
			signIn("wrong password").expect(t, 400, "auth.invalid_credentials")
		}
		signIn("wrong password").expect(t, 400, "auth.invalid_credentials") // the 5th: blocks
		signIn(pw).expect(t, 429, "auth.too_many_attempts")
	})
}

// TestSignInRecords: what a password sign-in leaves behind, on every
// dialect (PostgreSQL stores a session in one statement): the session with
// its refresh token, the session.created audit record and event, the
// user's roles in the token; and for a failure, the failure counted, the
// login.failed audit record and event, for a known and an unknown email
// alike.
func TestSignInRecords(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		admin := h.adminToken() // signed in itself: the admin role in its token
		if c := jwtClaims(t, admin); !slices.Equal(strs(c["roles"]), []string{"admin"}) {
			t.Fatalf("roles of the admin's token: %v", c["roles"])
		}
		h.signUp("rec@example.com", pw)
		tok := h.callFrom("203.0.113.7", "POST", "/v1/auth/token",
			map[string]any{"grant_type": "password", "username": "rec@example.com", "password": pw}).expect(t, 200, "")
		c := jwtClaims(t, tok.str("access_token"))
		sid, sub := c["sid"].(string), c["sub"].(string)
		var (
			userID, amr, ip string
			tokens          int
		)
		if err := h.db.SQL().QueryRowContext(ctx, `SELECT user_id, amr, ip FROM auth_sessions WHERE id = $1`, sid).
			Scan(&userID, &amr, &ip); err != nil {
			t.Fatalf("the session: %v", err)
		}
		if userID != sub || amr != `["pwd"]` || ip != "203.0.113.7" {
			t.Fatalf("session = %s %s %s; want %s [\"pwd\"] 203.0.113.7", userID, amr, ip, sub)
		}
		if err := h.db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_refresh_tokens WHERE session_id = $1`, sid).
			Scan(&tokens); err != nil || tokens != 1 {
			t.Fatalf("refresh tokens of the session: %d, %v", tokens, err)
		}
		if got := auditOf(t, h, "session.created", sid); got != sub+" 203.0.113.7 "+`{"amr":["pwd"]}` {
			t.Fatalf("session.created audit: %q", got)
		}
		if ev := h.awaitEvent(auth.EventSessionCreated, sid); ev.Subject() != sid {
			t.Fatalf("session.created event about %s", ev.Subject())
		}
		h.refresh(tok.str("refresh_token")).expect(t, 200, "")

		h.callFrom("203.0.113.8", "POST", "/v1/auth/token",
			map[string]any{"grant_type": "password", "username": "rec@example.com", "password": "wrong password!"}).
			expect(t, 400, "auth.invalid_credentials")
		h.callFrom("203.0.113.9", "POST", "/v1/auth/token",
			map[string]any{"grant_type": "password", "username": "nobody@example.com", "password": "wrong password!"}).
			expect(t, 400, "auth.invalid_credentials")
		if got := auditOf(t, h, "login.failed", sub); got != sub+" 203.0.113.8 "+`{"method":"password","reason":"wrong_password"}` {
			t.Fatalf("login.failed audit of the wrong password: %q", got)
		}
		if got := auditOf(t, h, "login.failed", ""); got != " 203.0.113.9 "+`{"method":"password","reason":"unknown_email"}` {
			t.Fatalf("login.failed audit of the unknown email: %q", got)
		}
		h.awaitEvent(auth.EventLoginFailed, sub)
		for _, key := range []string{
			throttle.AccountKey(throttle.SignIn, "rec@example.com"), throttle.IPKey(throttle.SignIn, "203.0.113.8"),
			throttle.AccountKey(throttle.SignIn, "nobody@example.com"), throttle.IPKey(throttle.SignIn, "203.0.113.9"),
		} {
			var n int
			if err := h.db.SQL().QueryRowContext(ctx, `SELECT failures FROM auth_throttle WHERE key = $1`, key).
				Scan(&n); err != nil || n != 1 {
				t.Errorf("failures of %s: %d, %v; want 1", key, n, err)
			}
		}
	})
}

// auditOf returns "actor ip data" of the one audit record of action about
// target.
func auditOf(t *testing.T, h *harness, action, target string) string {
	t.Helper()
	var actor, ip, data string
	if err := h.db.SQL().QueryRowContext(context.Background(),
		`SELECT actor, ip, data FROM auth_audit WHERE action = $1 AND target = $2`, action, target).
		Scan(&actor, &ip, &data); err != nil {
		t.Fatalf("audit of %s %s: %v", action, target, err)
	}
	return actor + " " + ip + " " + data
}

// TestThrottleOnTheServiceDatabase: a sign-in reads the throttle's table
// with the user, so a throttle on another database is refused at start.
func TestThrottleOnTheServiceDatabase(t *testing.T) {
	db := storetest.Open(t, store.SQLite, auth.Migrations...)
	other := storetest.Open(t, store.SQLite, throttle.Migrations)
	th, err := throttle.New(other, throttle.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.New(context.Background(), auth.Deps{DB: db, Throttle: th}, auth.Options{Secret: []byte(testSecret)})
	if err == nil || !strings.Contains(err.Error(), "throttle") {
		t.Fatalf("New with the throttle on another database: %v", err)
	}
}
