package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of an HTTPKeySource.
const (
	DefaultMinRefreshInterval = 5 * time.Second
	DefaultMinMaxAge          = time.Minute
	DefaultMaxMaxAge          = time.Hour
	DefaultKeysMaxAge         = 5 * time.Minute // when the response has no max-age
	DefaultFetchTimeout       = 5 * time.Second
	maxJWKSBytes              = 1 << 20
)

// errRefreshLimited is why an unknown kid did not cause a fetch.
var errRefreshLimited = errors.New("authn: jwks refresh rate-limited")

// HTTPKeySource fetches a JWKS over HTTP and caches it for the response's
// Cache-Control max-age (bounded). An unknown kid makes it refetch, at most
// once per refresh interval, with concurrent callers sharing one fetch; a
// set past its max-age is refreshed in the background while it keeps
// serving. A failed refresh keeps the last good set. It is safe for
// concurrent use.
type HTTPKeySource struct {
	url    string
	client *http.Client

	minInterval    time.Duration
	minAge, maxAge time.Duration
	defaultAge     time.Duration
	fetchTimeout   time.Duration
	now            func() time.Time

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	call        *fetchCall // the fetch in flight, if any
	lastAttempt time.Time
}

type keySet struct {
	keys    map[string]Key
	expires time.Time
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// KeySourceOption changes an HTTPKeySource default.
type KeySourceOption func(*HTTPKeySource)

// WithMinRefreshInterval sets how often, at most, a fetch is attempted.
func WithMinRefreshInterval(d time.Duration) KeySourceOption {
	return func(s *HTTPKeySource) { s.minInterval = d }
}

// WithMaxAgeBounds bounds the Cache-Control max-age honoured.
func WithMaxAgeBounds(lo, hi time.Duration) KeySourceOption {
	return func(s *HTTPKeySource) { s.minAge, s.maxAge = lo, hi }
}

// WithFetchTimeout bounds one JWKS fetch.
func WithFetchTimeout(d time.Duration) KeySourceOption {
	return func(s *HTTPKeySource) { s.fetchTimeout = d }
}

// WithKeySourceClock replaces time.Now, for tests.
func WithKeySourceClock(now func() time.Time) KeySourceOption {
	return func(s *HTTPKeySource) { s.now = now }
}

// NewHTTPKeySource returns a source fetching jwksURL through client (nil:
// http.DefaultClient). In one-process mode pass a client whose transport is
// transport.InProcess(authHandler): the same code, without a network hop.
// Nothing is fetched until the first Key call.
func NewHTTPKeySource(jwksURL string, client *http.Client, opts ...KeySourceOption) *HTTPKeySource {
	if client == nil {
		client = http.DefaultClient
	}
	s := &HTTPKeySource{
		url: jwksURL, client: client,
		minInterval: DefaultMinRefreshInterval,
		minAge:      DefaultMinMaxAge, maxAge: DefaultMaxMaxAge,
		defaultAge:   DefaultKeysMaxAge,
		fetchTimeout: DefaultFetchTimeout,
		now:          time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Key implements KeySource.
func (s *HTTPKeySource) Key(ctx context.Context, kid string) (Key, error) {
	set := s.set.Load()
	if set == nil {
		if err := s.refresh(ctx); err != nil && s.set.Load() == nil {
			return Key{}, fmt.Errorf("authn: no keys yet: %w", err)
		}
		set = s.set.Load()
	} else if s.now().After(set.expires) {
		if c, started := s.begin(); started {
			go s.run(context.WithoutCancel(ctx), c)
		}
	}
	if k, ok := set.keys[kid]; ok {
		return k, nil
	}
	err := s.refresh(ctx)
	if k, ok := s.set.Load().keys[kid]; ok {
		return k, nil
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w %q (%v)", ErrUnknownKey, kid, err)
	}
	return Key{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// refresh fetches the set now, or waits for the fetch in flight; when the
// rate limit forbids a fetch it returns errRefreshLimited at once.
func (s *HTTPKeySource) refresh(ctx context.Context) error {
	c, started := s.begin()
	switch {
	case c == nil:
		return errRefreshLimited
	case started:
		// Detached: one caller going away must not fail the others' fetch.
		s.run(context.WithoutCancel(ctx), c)
		return c.err
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// begin returns the fetch in flight, or starts a new one (started) when the
// rate limit allows, or nil.
func (s *HTTPKeySource) begin() (c *fetchCall, started bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.call != nil {
		return s.call, false
	}
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minInterval {
		return nil, false
	}
	s.lastAttempt = now
	s.call = &fetchCall{done: make(chan struct{})}
	return s.call, true
}

func (s *HTTPKeySource) run(ctx context.Context, c *fetchCall) {
	c.err = s.fetch(ctx)
	if c.err != nil {
		jwksRefreshError.Inc()
	} else {
		jwksRefreshOK.Inc()
	}
	s.mu.Lock()
	s.call = nil
	s.mu.Unlock()
	close(c.done)
}

func (s *HTTPKeySource) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("authn: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("authn: fetch jwks: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("authn: fetch jwks: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("authn: read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return errors.New("authn: jwks larger than 1 MiB")
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return err
	}
	age := maxAge(resp.Header.Get("Cache-Control"), s.defaultAge)
	age = min(max(age, s.minAge), s.maxAge)
	s.set.Store(&keySet{keys: keys, expires: s.now().Add(age)})
	return nil
}

// maxAge returns the max-age directive of a Cache-Control value, 0 for
// no-store or no-cache, or def when there is none.
func maxAge(cacheControl string, def time.Duration) time.Duration {
	for d := range strings.SplitSeq(cacheControl, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
			if err == nil && n >= 0 && n < 1<<31 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return def
}
