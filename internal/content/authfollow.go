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
)

// FollowAuth reads the auth service's user.deleted and session.revoked
// events until ctx is done, on every replica (bus.Follow: new messages
// only), and ends this replica's realtime connections they concern: a
// deleted user's (Hub.EndSubject, "user_deleted"), a revoked session's
// (Hub.EndSession) or, for a revocation of every session of a user, that
// user's (Hub.EndSubject), both "session_revoked". A connection keeps the
// principal it opened with, so without this it would outlive the
// revocation until its token expires. Run it in its own goroutine.
func (s *Service) FollowAuth(ctx context.Context, b *bus.Bus) error {
	prefix := "bam." + s.opts.AuthService + "."
	return b.Follow(ctx, bus.FollowOptions{Service: s.opts.AuthService,
		Subjects: []string{prefix + "user.deleted", prefix + "session.revoked"}, What: "realtime revocations"},
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
	}
}
