package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/mail/mailtest"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// clock is real time plus an offset tests can advance, or, once frozen,
// a fixed time plus that offset.
type clock struct {
	offset atomic.Int64
	frozen atomic.Int64 // UnixNano of real time when frozen; 0: running
}

func (c *clock) Now() time.Time {
	now := time.Now()
	if f := c.frozen.Load(); f != 0 {
		now = time.Unix(0, f)
	}
	return now.Add(time.Duration(c.offset.Load()))
}

func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Freeze stops the clock: until the test ends, only Advance moves it.
func (c *clock) Freeze() { c.frozen.Store(time.Now().UnixNano()) }

// harness is a real auth service: a real database (SQLite or PostgreSQL),
// the embedded NATS bus, a real SMTP server, behind a real HTTP listener.
type harness struct {
	t     *testing.T
	svc   *auth.Service
	db    *store.DB
	bus   *bus.Bus
	mail  *mailtest.Server
	clock *clock
	URL   string
}

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// loopback is auth.trusted_proxies' default: the gateway in one process
// or on the same host, as the tests' clients are.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// run runs fn against a fresh service on every dialect.
func run(t *testing.T, fn func(t *testing.T, h *harness)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) { fn(t, newHarness(t, db, nil)) }, auth.Migrations...)
}

func newHarness(t *testing.T, db *store.DB, tweak func(*auth.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	log := bustest.Logger()
	h := &harness{t: t, db: db, bus: bustest.Open(t, bustest.Embedded), clock: &clock{},
		mail: mailtest.Start(t, mailtest.Options{})}
	if err := h.bus.EnsureStream(ctx, "auth"); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(db, keys.Options{Secret: []byte(testSecret), TokenTTL: 15 * time.Minute, Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.Open(h.mail.URL(), "bam <no-reply@example.com>", log)
	if err != nil {
		t.Fatal(err)
	}
	th, err := throttle.New(db, throttle.Policy{Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ob := outbox.New(db, h.bus, outbox.Options{Logger: log})
	srv := httptest.NewUnstartedServer(nil)
	h.URL = "http://" + srv.Listener.Addr().String()
	opts := auth.Options{Issuer: h.URL, Audience: "bam", SiteURL: h.URL,
		AccessTokenTTL: 15 * time.Minute, SessionTTL: 24 * time.Hour, RefreshReuseGrace: 10 * time.Second,
		Secret: []byte(testSecret), Clock: h.clock.Now, TrustedProxies: loopback}
	if tweak != nil {
		tweak(&opts)
	}
	h.svc, err = auth.New(ctx, auth.Deps{DB: db, Outbox: ob, Keys: km, Hasher: hasher, Mail: sender,
		Throttle: th, Log: log}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Stop(context.Background()) })
	t.Cleanup(func() { _ = h.svc.Drain(context.Background()) }) // after srv.Close: mails in flight
	srv.Config.Handler = h.svc.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return h
}

// response is a decoded JSON answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r response) str(key string) string { s, _ := r.Body[key].(string); return s }

// call sends a JSON request (or a form when body is url.Values) with an
// optional bearer token.
func (h *harness) call(method, path string, body any, token string) response {
	h.t.Helper()
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
	req, _ := http.NewRequest(method, h.URL+path, rd)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// expect fails unless r has the status and, for errors, the code.
func (r response) expect(t *testing.T, status int, code string) response {
	t.Helper()
	if r.Status != status || (code != "" && r.str("code") != code) {
		t.Fatalf("got %d %s; want %d %s", r.Status, r.Raw, status, code)
	}
	return r
}

func (h *harness) signUp(email, pw string) response {
	h.t.Helper()
	return h.call("POST", "/v1/auth/signup", map[string]any{"email": email, "password": pw}, "").expect(h.t, 201, "")
}

func (h *harness) signIn(email, pw string) response {
	h.t.Helper()
	return h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {email},
		"password": {pw}}, "")
}

func (h *harness) refresh(token string) response {
	h.t.Helper()
	return h.call("POST", "/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, "")
}
