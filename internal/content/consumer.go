package content

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/store"
)

// UsersConsumer is the durable name of the consumer of auth's user events.
const UsersConsumer = "content-users"

// UserConsumer returns the consumer of the auth service's user.deleted
// events: each deleted user's owned records are deleted or anonymised,
// per collection (schema.Collection.OnUserDeleted), with their events, in
// the inbox transaction, so exactly once however often the event is
// delivered. Start and Stop it with the service.
func (s *Service) UserConsumer(b *bus.Bus) *inbox.Consumer {
	return &inbox.Consumer{
		Name:     UsersConsumer,
		Service:  s.opts.AuthService,
		Subjects: []string{"bam." + s.opts.AuthService + ".user.deleted"},
		Handler:  s.handleUserDeleted,
		DB:       s.DB,
		Bus:      b,
		Logger:   s.Log,
	}
}

// userDeleted is what the handler reads of auth's UserEvent.
type userDeleted struct {
	ID string `json:"id"`
}

func (s *Service) handleUserDeleted(ctx context.Context, tx *store.Tx, ev bus.Event) error {
	var u userDeleted
	if err := ev.DataAs(&u); err != nil || u.ID == "" {
		return fmt.Errorf("%w: user.deleted %s names no user (%v)", bus.ErrMalformed, ev.ID(), err)
	}
	// The collections another replica made since this one last looked are
	// to be forgotten in too: the event is done once this commits.
	if _, err := s.Registry.RefreshFrom(ctx, tx); err != nil {
		return err
	}
	deleted, changed, err := s.Records.ForgetOwner(ctx, tx, u.ID)
	if isSchemaSurprise(err) {
		// Redelivered after a backoff, by then with the current schema.
		_ = s.Registry.Load(context.WithoutCancel(ctx))
	}
	if err != nil {
		return err
	}
	held := 0
	for _, c := range changed {
		if c.Restricted {
			held++
		}
	}
	s.Log.InfoContext(ctx, "content: forgot a deleted user's records", "user", u.ID,
		"deleted", len(deleted), "anonymised", len(changed), "anonymised_as_restricted", held)
	return s.emitDeletes(ctx, tx, deleted, changed)
}
