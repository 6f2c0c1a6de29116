package content

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/bus"
)

// Reasons realtime connections are ended with.
const (
	endUserDeleted    = "user_deleted"
	endSessionRevoked = "session_revoked"
	endKeyRevoked     = "api_key_revoked"
)

// FollowAuth reads the auth service's user.deleted, session.revoked and
// api_key.revoked events until ctx is done, on every replica (bus.Follow:
// new messages only), and ends this replica's realtime connections they
// concern: a deleted user's (Hub.EndSubject, "user_deleted"), a revoked
// session's (Hub.EndSession) or, for a revocation of every session of a
// user, that user's (Hub.EndSubject), both "session_revoked", and those
// opened with a revoked API key (Hub.EndAPIKey, "api_key_revoked"). A
// connection keeps the principal it opened with, so without this it would
// outlive the revocation until its token expires — an API key's, never.
// Run it in its own goroutine.
func (s *Service) FollowAuth(ctx context.Context, b *bus.Bus) error {
	prefix := "bam." + s.opts.AuthService + "."
	return b.Follow(ctx, bus.FollowOptions{Service: s.opts.AuthService,
		Subjects: []string{prefix + "user.deleted", prefix + "session.revoked", prefix + "api_key.revoked"},
		What:     "realtime revocations"},
		func(msg jetstream.Msg) { s.onAuthEvent(msg.Data(), prefix) })
}

// onAuthEvent applies one event of the auth stream.
func (s *Service) onAuthEvent(data []byte, prefix string) {
	ev, err := bus.Decode(data)
	if err != nil {
		s.Log.Warn("content: bad event on the auth stream", "err", err)
		return
	}
	switch strings.TrimPrefix(ev.Type(), prefix) {
	case "user.deleted":
		var u userDeleted
		if err := ev.DataAs(&u); err != nil || u.ID == "" {
			s.Log.Warn("content: user.deleted names no user", "event", ev.ID(), "err", err)
			return
		}
		s.Hub.EndSubject(u.ID, endUserDeleted)
	case "session.revoked":
		var r authn.SessionRevoked
		if err := ev.DataAs(&r); err != nil {
			s.Log.Warn("content: bad session.revoked", "event", ev.ID(), "err", err)
			return
		}
		switch {
		case r.All && r.Subject != "":
			s.Hub.EndSubject(r.Subject, endSessionRevoked)
		case r.SessionID != "":
			s.Hub.EndSession(r.SessionID, endSessionRevoked)
		}
	case "api_key.revoked":
		var k struct {
			KeyID string `json:"keyId"`
		}
		if err := ev.DataAs(&k); err != nil || k.KeyID == "" {
			s.Log.Warn("content: api_key.revoked names no key", "event", ev.ID(), "err", err)
			return
		}
		s.Hub.EndAPIKey(k.KeyID, endKeyRevoked)
	}
}
