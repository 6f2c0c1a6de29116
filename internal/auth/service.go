package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/batch"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
)

// Options configure the service; module.go fills them from bam's config.
type Options struct {
	Issuer               string // iss of tokens: the public URL clients reach bam at
	Audience             string
	SiteURL              string // base of links in mails
	AccessTokenTTL       time.Duration
	SessionTTL           time.Duration
	RefreshReuseGrace    time.Duration
	RequireVerifiedEmail bool
	// Secret (32+ bytes) seals signing keys and MFA secrets and keys the
	// refresh-token successor HMAC; the same on every replica.
	Secret []byte
	Clock  func() time.Time
	// Social lists the OpenID Connect providers users may sign in with, and
	// RedirectURLs where that sign-in may send them back besides SiteURL's
	// origin (social.go).
	Social       []SocialProvider
	RedirectURLs []string
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (the gateway): the address sessions, the audit trail and the
	// throttles see (client.go). Empty: the TCP peer, always.
	TrustedProxies []netip.Prefix
}

// Deps are what the service is built from.
type Deps struct {
	DB       *store.DB
	Outbox   *outbox.Outbox
	Keys     *keys.Manager
	Hasher   *password.Hasher
	Policy   password.Policy
	Mail     mail.Sender
	Throttle *throttle.Throttle // on DB: sign-ins read its table with the user, count failures with their audit
	Log      *slog.Logger
}

// Service is the auth service's logic. Its HTTP face is in http.go.
type Service struct {
	Deps
	opts       Options
	refreshKey []byte // HMAC key for refresh-token successors
	verifier   *authn.Verifier
	deny       *authn.DenyList
	social     socialProviders // discovered lazily (social.go)
	tasks      sync.WaitGroup  // mails sent after a commit or a response (verify.go)
	signups    *throttle.Throttle
	perIP      *throttle.Throttle          // social sign-in starts and failed API key checks
	refresher  *batch.Batcher[*refreshJob] // group commit of refreshes (refresh_batch.go)
	signIns    chan struct{}               // sign-in slots (signin_admit.go)
}

// signupAllowance is how many sign-ups one IP makes in an hour before
// backoff: enough for a household or an office behind one address.
const signupAllowance = 20

// ipAllowance is how many social sign-ins one IP starts without completing
// one, and how many API keys it gets refused, before backoff (perIP).
const ipAllowance = 30

// Migrations are the auth database's schema sets, in order.
var Migrations = []store.MigrationSet{schema, keys.Migrations, throttle.Migrations, outbox.Migrations}

// New builds the service from its dependencies.
func New(ctx context.Context, d Deps, o Options) (*Service, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if len(o.Secret) < 32 {
		return nil, errors.New("auth: the secret must have at least 32 bytes")
	}
	refreshKey, err := hkdf.Key(sha256.New, o.Secret, nil, "bam auth refresh-token successor", 32)
	if err != nil {
		return nil, err
	}
	if d.Throttle.DB() != d.DB {
		return nil, errors.New("auth: the throttle must be on the service's database")
	}
	s := &Service{Deps: d, opts: o, refreshKey: refreshKey}
	s.refresher = newRefresher(d.DB.Dialect(), s.refreshBatch)
	s.signIns = make(chan struct{}, signInSlots())
	if s.signups, err = throttle.New(d.DB, throttle.Policy{Free: signupAllowance, Window: time.Hour, Clock: o.Clock}); err != nil {
		return nil, err
	}
	if s.perIP, err = throttle.New(d.DB, throttle.Policy{Free: ipAllowance, Window: time.Hour, Clock: o.Clock}); err != nil {
		return nil, err
	}
	if err := d.Keys.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("auth: signing keys: %w", err)
	}
	s.deny = authn.NewDenyList(authn.DenyListOptions{TokenLifetime: o.AccessTokenTTL, Clock: o.Clock})
	s.verifier, err = authn.NewVerifier(authn.Options{
		Issuer: o.Issuer, Audience: o.Audience, Keys: &managerKeys{m: d.Keys}, DenyList: s.deny, Clock: o.Clock})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Verifier verifies the tokens this service issues, with no network hop:
// keys come straight from the key manager.
func (s *Service) Verifier() *authn.Verifier { return s.verifier }

// DenyList is the verifier's list of revoked sessions (fed by Follow).
func (s *Service) DenyList() *authn.DenyList { return s.deny }

func (s *Service) now() time.Time { return s.opts.Clock().UTC().Truncate(time.Microsecond) }

// managerKeys serves the key manager's published keys to the verifier,
// re-reading them at most every few seconds, or at once for an unknown kid
// (a rotation done by another replica).
type managerKeys struct {
	m       *keys.Manager
	mu      sync.Mutex
	src     authn.KeySource
	fetched time.Time
}

func (k *managerKeys) Key(ctx context.Context, kid string) (authn.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := time.Since(k.fetched)
	if k.src != nil && age < 5*time.Second {
		key, err := k.src.Key(ctx, kid)
		if err == nil || age < time.Second { // an unknown kid re-reads at most once a second
			return key, err
		}
	}
	set, err := k.m.JWKS(ctx)
	if err != nil {
		return authn.Key{}, err
	}
	if k.src, err = authn.StaticKeys(set); err != nil {
		return authn.Key{}, err
	}
	k.fetched = time.Now()
	return k.src.Key(ctx, kid)
}
