package content_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// issuer and audience of the tokens tests mint.
const (
	issuer   = "http://bam.test"
	audience = "bam"
)

// tokens mints real access tokens (a keys.Manager, as the auth service
// signs them) that an authn.Verifier over its JWKS accepts.
type tokens struct {
	t    testing.TB
	keys *keys.Manager
	src  authn.KeySource
}

func newTokens(t testing.TB) *tokens {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite, keys.Migrations)
	m, err := keys.New(db, keys.Options{Secret: []byte("0123456789abcdef0123456789abcdef-content-test"),
		TokenTTL: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	set, err := m.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src, err := authn.StaticKeys(set)
	if err != nil {
		t.Fatal(err)
	}
	return &tokens{t: t, keys: m, src: src}
}

// verifier is a fresh verifier of these tokens (one per replica).
func (k *tokens) verifier() *authn.Verifier {
	k.t.Helper()
	v, err := authn.NewVerifier(authn.Options{Issuer: issuer, Audience: audience, Keys: k.src})
	if err != nil {
		k.t.Fatal(err)
	}
	return v
}

// user is a caller of the tests.
type user struct {
	ID    string
	Token string
	SID   string // the session of the token
}

// mint returns a user with a fresh id, the given roles and permissions.
func (k *tokens) mint(roles, perms []string) user {
	k.t.Helper()
	id, sid := uuid.NewString(), uuid.NewString()
	now := time.Now()
	tok, err := k.keys.Sign(context.Background(), map[string]any{
		"iss": issuer, "sub": id, "aud": []string{audience}, "exp": now.Add(10 * time.Minute).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "jti": uuid.NewString(), "sid": sid, "kind": "user",
		"roles": nonNil(roles), "permissions": nonNil(perms), "email": id[:8] + "@example.com", "email_verified": true,
	})
	if err != nil {
		k.t.Fatal(err)
	}
	return user{ID: id, Token: tok, SID: sid}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// replica is one running content service behind a real HTTP listener.
type replica struct {
	t   testing.TB
	svc *content.Service
	db  *store.DB
	bus *bus.Bus
	URL string
}

// cluster is what the replicas of a test share: names on the bus, the
// token issuer.
type cluster struct {
	t       testing.TB
	tokens  *tokens
	service string // the content stream's service name (fresh per test)
	auth    string // the auth stream's service name (fresh per test)
	admin   user
}

func newCluster(t testing.TB, b *bus.Bus) *cluster {
	t.Helper()
	c := &cluster{t: t, tokens: newTokens(t), service: bustest.Service(t, b), auth: bustest.Service(t, b)}
	c.admin = c.tokens.mint([]string{"admin"}, []string{"admin"})
	return c
}

// start runs a replica on db and b: the service, its outbox relay, its
// follower of the content stream and its consumer of user deletions.
func (c *cluster) start(db *store.DB, b *bus.Bus) *replica { return c.startReplica(db, b, true) }

// startDeaf runs a replica that does not follow the content stream: it
// learns of schema changes only when a request stumbles on one.
func (c *cluster) startDeaf(db *store.DB, b *bus.Bus) *replica { return c.startReplica(db, b, false) }

func (c *cluster) startReplica(db *store.DB, b *bus.Bus, follow bool) *replica {
	t := c.t
	t.Helper()
	ctx := context.Background()
	log := bustest.Logger()
	ob := outbox.New(db, b, outbox.Options{Logger: log, PollInterval: 50 * time.Millisecond})
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	svc, err := content.New(ctx, content.Deps{DB: db, Outbox: ob, Verifier: c.tokens.verifier(), Log: log},
		content.Options{Service: c.service, AuthService: c.auth, PublicURL: url,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}) // as auth.trusted_proxies by default
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	users := svc.UserConsumer(b)
	if err := users.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	followed := make(chan struct{})
	if follow {
		go func() { defer close(followed); _ = svc.Follow(fctx, b) }()
		authFollowed := make(chan struct{})
		go func() { defer close(authFollowed); _ = svc.FollowAuth(fctx, b) }()
		t.Cleanup(func() { cancel(); <-authFollowed })
		select {
		case <-svc.Following():
		case <-time.After(10 * time.Second):
			t.Fatal("the replica does not follow the content stream")
		}
	} else {
		close(followed)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
		cancel()
		<-followed
		_ = users.Stop(context.Background())
		_ = ob.Stop(context.Background())
	})
	return &replica{t: t, svc: svc, db: db, bus: b, URL: url}
}

// run runs fn on a fresh replica on every dialect, with the embedded bus.
func run(t *testing.T, fn func(t *testing.T, c *cluster, r *replica)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		b := bustest.Open(t, bustest.Embedded)
		c := newCluster(t, b)
		fn(t, c, c.start(db, b))
	}, content.Migrations...)
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r response) str(key string) string { s, _ := r.Body[key].(string); return s }

// items is the items of a list answer.
func (r response) items() []map[string]any {
	l, _ := r.Body["items"].([]any)
	out := make([]map[string]any, 0, len(l))
	for _, it := range l {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// ids is the ids of a list answer's items.
func (r response) ids() []string {
	var out []string
	for _, it := range r.items() {
		s, _ := it["id"].(string)
		out = append(out, s)
	}
	return out
}

// expect fails unless r has the status and, for errors, the code.
func (r response) expect(t testing.TB, status int, code string) response {
	t.Helper()
	if r.Status != status || (code != "" && r.str("code") != code) {
		t.Fatalf("got %d %s; want %d %s", r.Status, r.Raw, status, code)
	}
	return r
}

// call sends a JSON request as u (the zero user: anonymous) with extra
// headers (name, value, …).
func (r *replica) call(method, path string, body any, u user, headers ...string) response {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, r.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// collection creates a collection from a JSON definition as the admin.
func (c *cluster) collection(r *replica, def string) response {
	c.t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(def), &body); err != nil {
		c.t.Fatalf("definition: %v\n%s", err, def)
	}
	return r.call("POST", "/v1/collections", body, c.admin).expect(c.t, 201, "")
}

// create creates a record of coll as u and returns it.
func (r *replica) create(coll string, u user, body map[string]any) response {
	r.t.Helper()
	return r.call("POST", "/v1/collections/"+coll+"/records", body, u).expect(r.t, 201, "")
}

// events reads every event of the content stream published so far, once
// at least want of them are there (or after a few seconds).
func (c *cluster) events(b *bus.Bus, want int) []bus.Event {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []bus.Event
	for {
		out = out[:0]
		cons, err := b.JetStream().OrderedConsumer(ctx, bus.StreamName(c.service), jetstream.OrderedConsumerConfig{})
		if err != nil {
			c.t.Fatal(err)
		}
		for {
			msg, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
			if err != nil {
				break
			}
			ev, err := bus.Decode(msg.Data())
			if err != nil {
				c.t.Fatal(err)
			}
			out = append(out, ev)
		}
		if len(out) >= want || ctx.Err() != nil {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ofType filters events by type suffix ("record.created").
func ofType(evs []bus.Event, suffix string) []bus.Event {
	var out []bus.Event
	for _, ev := range evs {
		if strings.HasSuffix(ev.Type(), "."+suffix) {
			out = append(out, ev)
		}
	}
	return out
}
