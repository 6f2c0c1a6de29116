package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/errs"
)

// wait bounds every expectation of a message.
const wait = 5 * time.Second

// testAuth is an Authorizer with fixed rules: collections posts (public
// records, or the caller's own) and notes (the caller's own only); filters
// "", "views > N", "error" (the matcher fails) and "panic" (it panics).
type testAuth struct{}

func (testAuth) Subscribe(_ context.Context, p *authn.Principal, s realtime.Subscription) (realtime.Matcher, error) {
	collection, _, _ := strings.Cut(s.Topic, "/")
	var rule func(rec map[string]any) bool
	switch collection {
	case "posts":
		rule = func(rec map[string]any) bool { return rec["public"] == true || owns(p, rec) }
	case "notes":
		if p == nil {
			return nil, errs.E(errs.Forbidden, "content.forbidden", "Sign in to watch notes.")
		}
		rule = func(rec map[string]any) bool { return owns(p, rec) }
	default:
		return nil, errs.E(errs.NotFound, "content.not_found", "No collection %q.", collection)
	}
	filter, err := parseFilter(s.Filter)
	if err != nil {
		return nil, errs.E(errs.Invalid, "content.invalid_filter", "%s", err.Error())
	}
	return func(c *realtime.Change) (bool, error) {
		if !rule(c.Record) {
			return false, nil
		}
		return filter(c.Record)
	}, nil
}

func owns(p *authn.Principal, rec map[string]any) bool {
	return p != nil && rec["owner"] == p.Subject
}

func parseFilter(f string) (func(map[string]any) (bool, error), error) {
	switch {
	case f == "":
		return func(map[string]any) (bool, error) { return true, nil }, nil
	case f == "error":
		return func(map[string]any) (bool, error) { return false, errors.New("broken rule") }, nil
	case f == "panic":
		return func(map[string]any) (bool, error) { panic("rule exploded") }, nil
	case strings.HasPrefix(f, "views > "):
		n, err := strconv.Atoi(strings.TrimPrefix(f, "views > "))
		if err != nil {
			return nil, err
		}
		return func(rec map[string]any) (bool, error) {
			v, _ := rec["views"].(int)
			return v > n, nil
		}, nil
	}
	return nil, fmt.Errorf("cannot parse filter %q", f)
}

// withPrincipal stands in for authn.Middleware: header X-User names the
// subject (none: anonymous), X-Session its session, X-Expires (RFC 3339)
// its expiry, X-Key the id of the API key it came with (then it is a key's
// principal), X-Issued (RFC 3339) when its token was issued.
func withPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-User"); u != "" {
			p := &authn.Principal{Kind: authn.KindUser, Subject: u, SessionID: r.Header.Get("X-Session")}
			if key := r.Header.Get("X-Key"); key != "" {
				p.Kind, p.TokenID = authn.KindAPIKey, key
			}
			if at := r.Header.Get("X-Issued"); at != "" {
				p.IssuedAt, _ = time.Parse(time.RFC3339Nano, at)
			}
			if e := r.Header.Get("X-Expires"); e != "" {
				p.ExpiresAt, _ = time.Parse(time.RFC3339Nano, e)
			}
			r = r.WithContext(authn.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// quietLogger drops logs (matcher failures are expected in tests).
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newServer serves a hub with opts (Authorizer testAuth unless set) on a
// real HTTP server; the hub is closed before the server.
func newServer(t testing.TB, opts realtime.Options) (*realtime.Hub, *httptest.Server) {
	t.Helper()
	if opts.Authorizer == nil {
		opts.Authorizer = testAuth{}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	hub := realtime.NewHub(opts)
	srv := httptest.NewServer(withPrincipal(hub))
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	return hub, srv
}

// change is a test change; kv are record fields.
func change(seq uint64, collection, id string, kv ...any) realtime.Change {
	rec := map[string]any{"id": id}
	for i := 0; i+1 < len(kv); i += 2 {
		rec[kv[i].(string)] = kv[i+1]
	}
	return realtime.Change{Seq: seq, Action: "created", Collection: collection, ID: id, Record: rec}
}

// seqs lists the seqs of changes.
func seqs(cs []changeData) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.Seq
	}
	return out
}

// settle gives a published change time to be fanned out before a test
// checks that nothing arrived.
const settle = 150 * time.Millisecond

// changeData is the data of a change event or message.
type changeData struct {
	Type          string         `json:"type"`
	Seq           uint64         `json:"seq"`
	Action        string         `json:"action"`
	Collection    string         `json:"collection"`
	ID            string         `json:"id"`
	Record        map[string]any `json:"record"`
	Subscriptions []string       `json:"subscriptions"`
}

// seqOf reads the "seq" the tests put in every record.
func seqOf(d changeData) uint64 {
	f, _ := d.Record["seq"].(float64)
	return uint64(f)
}

// seqChange is change() with the seq also in the record, so that a
// receiver can check the SSE id against the data.
func seqChange(seq uint64, collection, id string, kv ...any) realtime.Change {
	return change(seq, collection, id, append([]any{"seq", seq}, kv...)...)
}
