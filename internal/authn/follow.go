package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/bus"
)

// SessionRevoked is the data of a session-revoked event: the session sid of
// sub was revoked, or, with All, every token of sub issued at or before the
// event's time (sign-out everywhere, user disabled or deleted).
type SessionRevoked struct {
	SessionID string `json:"sid"`
	Subject   string `json:"sub"`
	All       bool   `json:"all"`
}

// SessionRevokedType is the event type (and NATS subject) of revocations
// published by the auth service.
const SessionRevokedType = "bam.auth.session.revoked"

// FollowOption changes a Follow default.
type FollowOption func(*followConfig)

type followConfig struct {
	service string
}

// FollowService reads the revocations of another service than "auth", i.e.
// bam.<service>.session.revoked in stream BAM_<SERVICE>; for tests sharing
// a NATS server.
func FollowService(service string) FollowOption {
	return func(c *followConfig) { c.service = service }
}

// Follow applies the auth service's revocation events to d until ctx is
// done, then returns nil. It reads them with bus.Follow (an ordered,
// ephemeral consumer: every replica sees every revocation) starting
// lookback ago, so a replica that starts relearns the revocations that may
// still matter: pass the access-token lifetime (d.TokenLifetime()). Events
// arrive within milliseconds, so a revoked token stops working on every
// replica well within a second.
//
// Follow ensures the stream exists, and when the bus is unreachable it
// retries with backoff rather than giving up; only invalid arguments are
// returned as errors. Run it in its own goroutine.
func (d *DenyList) Follow(ctx context.Context, b *bus.Bus, lookback time.Duration, opts ...FollowOption) error {
	cfg := followConfig{service: "auth"}
	for _, o := range opts {
		o(&cfg)
	}
	if b == nil {
		return errors.New("authn: follow needs a bus")
	}
	if bus.ServiceOf("bam."+cfg.service+".x") != cfg.service {
		return fmt.Errorf("authn: follow: bad service name %q", cfg.service)
	}
	log := b.Logger().With("component", "authn", "service", cfg.service)
	subject := "bam." + cfg.service + ".session.revoked"
	return b.Follow(ctx, bus.FollowOptions{Service: cfg.service, Subjects: []string{subject}, Since: lookback,
		What: "revocations"}, func(msg jetstream.Msg) {
		if err := d.apply(msg.Data(), subject); err != nil {
			log.Error("bad revocation event", "subject", msg.Subject(), "err", err)
		}
	})
}

// apply records one encoded revocation event.
func (d *DenyList) apply(data []byte, wantType string) error {
	ev, err := bus.Decode(data)
	if err != nil {
		return err
	}
	if ev.Type() != wantType {
		return fmt.Errorf("unexpected type %q", ev.Type())
	}
	var r SessionRevoked
	if err := ev.DataAs(&r); err != nil {
		return fmt.Errorf("%w: data: %v", bus.ErrMalformed, err)
	}
	at := ev.Time()
	if at.IsZero() {
		at = d.now()
	}
	switch {
	case r.All && r.Subject != "":
		d.RevokeSubject(r.Subject, at)
	case r.SessionID != "":
		d.RevokeSession(r.SessionID, at)
	default:
		return fmt.Errorf("%w: revocation names neither a session nor a subject", bus.ErrMalformed)
	}
	return nil
}
