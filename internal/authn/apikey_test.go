package authn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/testenv"
)

// keyServer implements the auth service's POST /v1/auth/keys/verify.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]bool // key → active
	calls   atomic.Int64
	failing bool
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	s := &keyServer{keys: map[string]bool{"bam_live_1": true}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/keys/verify", func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		var req struct {
			Key string `json:"key"`
		}
		if err := httpx.DecodeJSON(w, r, &req); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		s.mu.Lock()
		active, failing := s.keys[req.Key], s.failing
		s.mu.Unlock()
		switch {
		case failing:
			httpx.WriteError(w, r, errs.E(errs.Unavailable, "auth.unavailable", "down"))
		case !active:
			httpx.WriteError(w, r, errs.E(errs.Unauthenticated, "auth.invalid_api_key", "Invalid API key."))
		default:
			httpx.WriteJSON(w, http.StatusOK, map[string]any{
				"subject": "svc_importer", "keyId": "key_1",
				"permissions": []string{"content.posts.write"}, "roles": []string{"importer"},
				"expiresAt": time.Now().Add(time.Hour),
			})
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) setActive(key string, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = active
}

func (s *keyServer) setFailing(f bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = f
}

func newAPIKeyVerifier(t *testing.T, s *keyServer, c *testenv.Clock) *authn.APIKeyVerifier {
	t.Helper()
	a, err := authn.NewAPIKeyVerifier(authn.APIKeyOptions{
		Endpoint: s.URL + "/v1/auth/keys/verify", Client: s.Client(), Clock: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAPIKeyAllowedUnknownRevoked(t *testing.T) {
	c := testenv.NewClock(time.Now())
	s := newKeyServer(t)
	a := newAPIKeyVerifier(t, s, c)
	ctx := context.Background()

	p, err := a.Verify(ctx, "bam_live_1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != authn.KindAPIKey || p.Subject != "svc_importer" || p.TokenID != "key_1" ||
		!slices.Equal(p.Roles, []string{"importer"}) || !p.HasPermission("content.posts.write") || p.ExpiresAt.IsZero() {
		t.Fatalf("principal = %+v", p)
	}

	_, err = a.Verify(ctx, "bam_unknown")
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenInvalid)
	_, err = a.Verify(ctx, "bam_unknown") // negative answer cached
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenInvalid)
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2 (the repeat came from the cache)", n)
	}

	s.setActive("bam_live_1", false) // revoked on the server
	if _, err := a.Verify(ctx, "bam_live_1"); err != nil {
		t.Fatalf("within the TTL the cached answer holds: %v", err)
	}
	c.Advance(authn.DefaultAPIKeyTTL)
	_, err = a.Verify(ctx, "bam_live_1")
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenInvalid)
}

func TestAPIKeyMalformedAndUnavailable(t *testing.T) {
	c := testenv.NewClock(time.Now())
	s := newKeyServer(t)
	a := newAPIKeyVerifier(t, s, c)
	ctx := context.Background()
	for _, k := range []string{"sk_live_1", "bam_", "eyJhbGciOi"} {
		_, err := a.Verify(ctx, k)
		wantCode(t, err, errs.Unauthenticated, authn.CodeTokenMalformed)
	}
	_, err := a.Verify(ctx, "")
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenMissing)

	s.setFailing(true)
	_, err = a.Verify(ctx, "bam_live_1")
	wantCode(t, err, errs.Unavailable, authn.CodeKeysUnavailable)
	s.setFailing(false) // an outage is not cached
	if _, err := a.Verify(ctx, "bam_live_1"); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if s.calls.Load() != 2 {
		t.Errorf("calls = %d, want 2 (malformed keys never reach the server)", s.calls.Load())
	}
}
