package content

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	fastjson "github.com/segmentio/encoding/json"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/errs"
)

// followTimeout bounds the work one followed event causes (a registry
// reload); changeTimeout that of a record change (reading the record of a
// sensitive collection, or a large one, and related records for realtime).
const (
	followTimeout = 10 * time.Second
	changeTimeout = 2 * time.Second
)

// Follow reads the content stream until ctx is done, on every replica
// (bus.Follow: an ordered consumer, new messages only): collection events
// reload the registry, so every replica serves the new definitions, and
// record events go to this replica's realtime subscribers as
// realtime.Change with Seq = the stream sequence, the same on every
// replica (what clients resume from with Last-Event-ID). The hub learns
// the stream's position first, so clients connecting before the first
// change can resume without a gap. Run it in its own goroutine.
func (s *Service) Follow(ctx context.Context, b *bus.Bus) error {
	last, err := s.streamPosition(ctx, b)
	if err != nil {
		return nil // ctx ended
	}
	s.Hub.SetPosition(last)
	s.followOnce.Do(func() { close(s.following) })
	return b.Follow(ctx, bus.FollowOptions{Service: s.opts.Service, FromSeq: last + 1, What: "content changes"},
		func(msg jetstream.Msg) { s.onEvent(ctx, msg) })
}

// Following is closed once Follow knows the content stream's position:
// from then on every change reaches this replica's subscribers.
func (s *Service) Following() <-chan struct{} { return s.following }

// streamPosition reads the content stream's last sequence, retrying with
// backoff while the bus does not answer, until ctx ends.
func (s *Service) streamPosition(ctx context.Context, b *bus.Bus) (uint64, error) {
	wait := 100 * time.Millisecond
	for {
		last, err := b.LastSeq(ctx, s.opts.Service)
		if err == nil {
			return last, nil
		}
		s.Log.Warn("content: reading the content stream's position; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// onEvent applies one event of the content stream to this replica.
func (s *Service) onEvent(ctx context.Context, msg jetstream.Msg) {
	ctx = context.WithoutCancel(ctx)
	// One pass over the event for its type and data (bus.DecodeData): a
	// create load on one replica is as many events to follow.
	var data followedRecord
	ev, err := bus.DecodeData(msg.Data(), &data)
	if err != nil {
		s.Log.Warn("content: bad event on the content stream", "subject", msg.Subject(), "err", err)
		return
	}
	kind, ok := strings.CutPrefix(ev.Type, "bam."+s.opts.Service+".")
	if !ok {
		return
	}
	entity, action, _ := strings.Cut(kind, ".")
	switch entity {
	case "collection":
		s.Records.ChangedAll()
		ctx, cancel := context.WithTimeout(ctx, followTimeout)
		defer cancel()
		if err := s.Registry.Load(ctx); err != nil {
			s.Log.Warn("content: reloading collections after "+ev.Type, "err", err)
		}
	case "record":
		meta, err := msg.Metadata()
		if err != nil {
			return
		}
		if data.Collection == "" || data.ID == "" {
			s.Log.Warn("content: bad record event", "event", ev.ID)
			return
		}
		s.Records.Changed(data.Collection) // another replica's write: counts kept here are stale
		c := realtime.Change{Seq: meta.Sequence.Stream, Action: action, Collection: data.Collection,
			ID: data.ID}
		if len(data.Record) > 0 && string(data.Record) != "null" {
			c.RecordJSON = data.Record // decoded by the hub only for a subscriber
		}
		paths := s.relationPaths(data.Collection) // what matchers read through relations
		sensitive := c.RecordJSON == nil && action != actionDeleted
		if !sensitive && len(paths) == 0 {
			s.Hub.Publish(c) // nothing to read first
			return
		}
		// One deadline for every read the change causes: the follower
		// delivers changes in order, so a slow one holds the others.
		ctx, cancel := context.WithTimeout(ctx, changeTimeout)
		defer cancel()
		if sensitive {
			// A sensitive collection: the event carries no data. One read
			// per change, whatever the number of subscribers.
			if c.Record = s.loadForRealtime(ctx, data.Collection, data.ID, c.Seq); c.Record == nil {
				return
			}
		}
		s.preload(ctx, &c, paths) // before the matchers run
		s.Hub.Publish(c)
	}
}

// followedRecord is a RecordEvent as the follower reads it (and, with
// fields it does not have, a CollectionEvent): the record stays JSON,
// which realtime sends as it is and decodes only when a subscriber's rule
// or filter is to see it (so the fast decoder serves here: it makes no
// map).
type followedRecord struct {
	Collection string              `json:"collection"`
	ID         string              `json:"id"`
	Record     fastjson.RawMessage `json:"record,omitempty"`
}

// loadForRealtime reads a record of a sensitive collection as it is now
// (nil when it is gone again, or could not be read: that change of seq
// reaches no subscriber, and a failed read says so in the log).
func (s *Service) loadForRealtime(ctx context.Context, collection, id string, seq uint64) records.Record {
	c, ok := s.Registry.Get(collection)
	if !ok {
		return nil
	}
	rec, err := s.Records.Get(ctx, s.DB.SQL(), c, id, nil)
	if err != nil {
		if errs.KindOf(err) != errs.NotFound {
			s.Log.Warn("content: reading a record for realtime failed; its change reaches no subscriber",
				"collection", collection, "id", id, "seq", seq, "err", err)
		}
		return nil
	}
	return rec
}
