package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/store"
)

// Name is the service's name: its module, database, stream and source.
const Name = "auth"

// Spec is how the platform runs the auth service.
func Spec(cfg config.Config) platform.Spec {
	return platform.Spec{
		Name:       Name,
		Deps:       []string{platform.ModuleBus},
		Migrations: Migrations,
		Routes:     Routes,
		Addr:       cfg.Auth.Addr,
		Upstream:   cfg.Auth.URL,
		New: func(ctx context.Context, p *platform.Platform) (kernel.Service, error) {
			return start(ctx, p)
		},
	}
}

// running is the service with its background work, as the kernel runs it.
type running struct {
	*Service
	db     *store.DB
	bus    *bus.Bus
	cancel context.CancelFunc
	wg     sync.WaitGroup
	every  time.Duration // key rotation
}

func start(ctx context.Context, p *platform.Platform) (*running, error) {
	c := p.Config.Auth
	secret, err := loadSecret(p.Config)
	if err != nil {
		return nil, err
	}
	db, err := p.OpenStore(ctx, Name, Migrations...)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*running, error) { db.Close(); return nil, err }
	if err := p.Bus.EnsureStream(ctx, Name); err != nil {
		return fail(err)
	}
	km, err := keys.New(db, keys.Options{Secret: secret, Alg: jose.SignatureAlgorithm(c.SigningAlg),
		TokenTTL: c.AccessTokenTTL, Logger: p.Log})
	if err != nil {
		return fail(err)
	}
	hasher, err := password.NewHasher(password.Options{})
	if err != nil {
		return fail(err)
	}
	policy := password.Policy{}
	if c.BreachedPasswords != "" {
		if policy.Breached, err = password.OpenBreached(c.BreachedPasswords); err != nil {
			return fail(fmt.Errorf("auth.breached_passwords: %w", err))
		}
	}
	mailURL := c.MailURL
	if mailURL == "" {
		mailURL = mail.DefaultURL(p.Config.DataDir)
	}
	sender, err := mail.Open(mailURL, c.MailFrom, p.Log)
	if err != nil {
		return fail(fmt.Errorf("auth.mail_url: %w", err))
	}
	th, err := throttle.New(db, throttle.Policy{})
	if err != nil {
		return fail(err)
	}
	trusted, err := httpx.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return fail(fmt.Errorf("auth.trusted_proxies: %w", err))
	}
	svc, err := New(ctx, Deps{DB: db, Outbox: outbox.New(db, p.Bus, outbox.Options{Logger: p.Log}), Keys: km,
		Hasher: hasher, Policy: policy, Mail: sender, Throttle: th, Log: p.Log},
		Options{Issuer: p.Config.PublicURL, Audience: c.Audience, SiteURL: p.Config.PublicURL,
			AccessTokenTTL: c.AccessTokenTTL, SessionTTL: c.SessionTTL, RefreshReuseGrace: c.RefreshReuseGrace,
			RequireVerifiedEmail: c.RequireVerifiedEmail, Secret: secret,
			Social: socialFromConfig(c.OIDC), RedirectURLs: c.OIDC.RedirectURLs, TrustedProxies: trusted})
	if err != nil {
		return fail(err)
	}
	if p.Config.Database.URL == "" { // embedded setup: a first administrator (admin_cli.go)
		if err := svc.bootstrapAdmin(ctx, p.Config.PublicURL, os.Stderr); err != nil {
			return fail(err)
		}
	}
	r := &running{Service: svc, db: db, bus: p.Bus, every: c.KeyRotation}
	return r, nil
}

// Start runs the outbox relay, the revocation follower and the periodic
// chores (key rotation, pruning).
func (r *running) Start(ctx context.Context) error {
	if err := r.Outbox.Start(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Go(func() {
		if err := r.deny.Follow(bg, r.bus, r.deny.TokenLifetime()); err != nil {
			r.Log.Error("auth: following revocations", "err", err)
		}
	})
	r.wg.Go(func() { r.chores(bg) })
	return nil
}

// Stop ends the background work, then the outbox, then the database.
func (r *running) Stop(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	drained := r.Drain(ctx) // mails still being sent
	return errors.Join(drained, r.Outbox.Stop(ctx), r.db.Close())
}

// Ready implements kernel.ReadyChecker.
func (r *running) Ready(ctx context.Context) error { return r.db.Ping(ctx) }

// chores rotates keys when due and prunes expired keys, throttle rows and
// single-use codes.
func (r *running) chores(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if r.every > 0 {
			if rotated, err := r.Keys.RotateIfOlder(ctx, r.every); err != nil {
				r.Log.Warn("auth: key rotation", "err", err)
			} else if rotated {
				r.Log.Info("auth: signing key rotated")
			}
		}
		if _, err := r.Keys.Prune(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("auth: pruning keys", "err", err)
		}
		if _, err := r.Throttle.Prune(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("auth: pruning throttles", "err", err)
		}
		if _, err := pruneCodes(ctx, r.DB.SQL(), r.now()); err != nil && ctx.Err() == nil {
			r.Log.Warn("auth: pruning codes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// loadSecret returns auth.secret, or on the embedded setup a secret
// generated once into data_dir/auth.secret. With PostgreSQL the replicas
// share a database and must share the secret: it has to be configured.
func loadSecret(cfg config.Config) ([]byte, error) {
	if cfg.Auth.Secret != "" {
		return []byte(cfg.Auth.Secret), nil
	}
	if cfg.Database.URL != "" {
		return nil, errors.New("auth.secret (BAM_AUTH_SECRET) is required with a shared database: " +
			"every replica must use the same one")
	}
	path := filepath.Join(cfg.DataDir, "auth.secret")
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("auth secret %s: %w", path, err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth secret %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return nil, err
	}
	return []byte(secret), nil
}
