package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/mail/mailtest"
)

// TestAuth signs a user up, verifies the address from the mail the
// embedded setup writes to disk, and signs in, through the real binary's
// gateway as the docs walkthrough does; then checks what third parties
// read: JWKS and discovery. SIGTERM then exits 0.
func TestAuth(t *testing.T) {
	p := start(t, nil)
	gw := p.gatewayURL()
	const email, pw = "ada@example.com", "correct horse battery staple"

	r := call(t, "POST", gw+"/v1/auth/signup", map[string]any{"email": email, "password": pw}, "")
	r.expect(t, 201)
	if r.str("email") != email || r.str("id") == "" {
		t.Fatalf("signup answered %s", r.raw)
	}

	// The verification mail, from the file outbox of the embedded setup;
	// its link names public_url, so it is followed on the gateway's port.
	link, err := url.Parse(p.waitMail(t, email))
	if err != nil || link.Path != "/v1/auth/verify" || link.Query().Get("type") != "signup" {
		t.Fatalf("verification link %q", link)
	}
	v := call(t, "GET", gw+link.Path+"?"+link.RawQuery, nil, "").expect(t, 200)
	if v.body["emailVerified"] != true {
		t.Errorf("verify = %s", v.raw)
	}
	call(t, "GET", gw+link.Path+"?"+link.RawQuery, nil, "").expect(t, 400) // single use

	tok := signIn(t, gw, email, pw)
	me := call(t, "GET", gw+"/v1/auth/user", nil, tok.str("access_token")).expect(t, 200)
	if me.str("email") != email || me.body["emailVerified"] != true {
		t.Errorf("/v1/auth/user = %s", me.raw)
	}
	call(t, "GET", gw+"/v1/auth/user", nil, "").expect(t, 401)

	disc := call(t, "GET", gw+"/.well-known/openid-configuration", nil, "").expect(t, 200)
	if disc.str("issuer") == "" || !strings.HasSuffix(disc.str("jwks_uri"), "/.well-known/jwks.json") {
		t.Errorf("discovery = %s", disc.raw)
	}
	jwks := call(t, "GET", gw+"/.well-known/jwks.json", nil, "").expect(t, 200)
	kid := tokenKID(t, tok.str("access_token"))
	if !strings.Contains(jwks.raw, `"kid":"`+kid+`"`) {
		t.Errorf("JWKS lacks the access token's kid %s: %s", kid, jwks.raw)
	}
	call(t, "GET", gw+"/v1/auth/openapi.json", nil, "").expect(t, 200)

	if err := p.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
	}
}

// TestAuthRestart stops bam after a sign-in and starts it again on the same
// data dir: the account, the signing keys and the session all survived,
// so the user signs in, the old access token still verifies and the old
// refresh token still refreshes.
func TestAuthRestart(t *testing.T) {
	p := start(t, nil)
	gw := p.gatewayURL()
	const email, pw = "grace@example.com", "correct horse battery staple"
	call(t, "POST", gw+"/v1/auth/signup", map[string]any{"email": email, "password": pw}, "").expect(t, 201)
	before := signIn(t, gw, email, pw)
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
	}

	p2 := start(t, nil, "--data-dir="+p.dataDir()) // the later flag wins
	gw = p2.gatewayURL()
	call(t, "GET", gw+"/v1/auth/user", nil, before.str("access_token")).expect(t, 200)
	refreshed := call(t, "POST", gw+"/v1/auth/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {before.str("refresh_token")}}, "").expect(t, 200)
	if refreshed.str("refresh_token") == "" || refreshed.str("refresh_token") == before.str("refresh_token") {
		t.Errorf("refresh after restart = %s", refreshed.raw)
	}
	if kid := tokenKID(t, refreshed.str("access_token")); kid != tokenKID(t, before.str("access_token")) {
		t.Errorf("signing key changed across a restart: %s", kid)
	}
	signIn(t, gw, email, pw)
	if err := p2.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.output())
	}
}

// gatewayURL is the public listener's base URL, read from its "listening"
// line once bam is ready.
func (p *proc) gatewayURL() string {
	gw := fmt.Sprint(p.waitLog("listening", map[string]string{"server": "gateway"}, 10*time.Second)["addr"])
	p.waitLog("bam is ready", nil, 10*time.Second)
	return gw
}

// dataDir is the --data-dir bam was started with (the last one given).
func (p *proc) dataDir() string {
	dir := ""
	for _, a := range p.cmd.Args {
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			dir = v
		}
	}
	if dir == "" {
		p.t.Fatal("bam was started without --data-dir")
	}
	return dir
}

// waitMail waits for a mail to `to` in the data dir's file outbox and
// returns its first link.
func (p *proc) waitMail(t *testing.T, to string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(p.dataDir(), "mail", "*.eml"))
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // being written; renamed into place when whole
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			m, err := mailtest.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if strings.Contains(strings.Join(m.Header["To"], ","), to) {
				return mail.FirstLink(m.Text)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no mail to %s in %s/mail:\n%s", to, p.dataDir(), p.output())
	return ""
}

// reply is a decoded JSON answer.
type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (r reply) str(key string) string { s, _ := r.body[key].(string); return s }

func (r reply) expect(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %d %s; want %d", r.status, r.raw, status)
	}
	return r
}

// call sends JSON (or a form, for url.Values) with an optional bearer token.
func call(t *testing.T, method, u string, body any, token string) reply {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, u, rd)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// signIn is the password grant; it fails t unless tokens come back.
func signIn(t *testing.T, gw, email, pw string) reply {
	t.Helper()
	r := call(t, "POST", gw+"/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {email},
		"password": {pw}}, "").expect(t, 200)
	if r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("token_type") != "Bearer" {
		t.Fatalf("token response = %s", r.raw)
	}
	return r
}

// tokenKID reads the kid from a JWT's header (not verified: the server
// does that).
func tokenKID(t *testing.T, jwt string) string {
	t.Helper()
	var hdr struct {
		KID string `json:"kid"`
	}
	head, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil || json.Unmarshal(raw, &hdr) != nil || hdr.KID == "" {
		t.Fatalf("no kid in token header %q", head)
	}
	return hdr.KID
}
