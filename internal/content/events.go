package content

import (
	"context"
	"encoding/json"
	"math"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
)

// Events the content service publishes, through its outbox, on the stream
// BAM_CONTENT. The subject of record events is the record id, of
// collection events the collection name.
const (
	EventRecordCreated     = "bam.content.record.created"     // RecordEvent
	EventRecordUpdated     = "bam.content.record.updated"     // RecordEvent
	EventRecordDeleted     = "bam.content.record.deleted"     // RecordEvent (record as it was)
	EventCollectionCreated = "bam.content.collection.created" // CollectionEvent
	EventCollectionUpdated = "bam.content.collection.updated" // CollectionEvent
	EventCollectionDeleted = "bam.content.collection.deleted" // CollectionEvent
)

// Actions, the last part of a record event's type and realtime.Change.Action.
const (
	actionCreated = "created"
	actionUpdated = "updated"
	actionDeleted = "deleted"
)

// RecordEvent is the data of record.* events. Record is left out for
// sensitive collections, and when it would make the event's data larger
// than 256 KiB: consumers that may see it read it from the API.
type RecordEvent struct {
	Collection string         `json:"collection"`
	ID         string         `json:"id"`
	Version    int64          `json:"version"`
	Record     records.Record `json:"record,omitempty"`
}

// CollectionEvent is the data of collection.* events.
type CollectionEvent struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// eventType is bam.<service>.<entity>.<verb> for this service's name.
func (s *Service) eventType(entityVerb string) string {
	return "bam." + s.opts.Service + "." + entityVerb
}

// maxEventRecord bounds the encoded data of a record event: a larger
// record is left out, as a sensitive one is (the realtime follower then
// reads it once per change).
const maxEventRecord = 256 << 10

// emitRecord writes a record event to the outbox in tx: published if and
// only if tx commits.
func (s *Service) emitRecord(ctx context.Context, tx *store.Tx, action string, c *schema.Collection, rec records.Record) error {
	e, err := s.recordEntry(ctx, action, c, rec)
	if err != nil {
		return err
	}
	return s.Outbox.Add(ctx, tx, e)
}

// recordEntry encodes the record event of action on rec of c for the
// outbox, with the trace context of ctx.
func (s *Service) recordEntry(ctx context.Context, action string, c *schema.Collection, rec records.Record) (outbox.Entry, error) {
	data := RecordEvent{Collection: c.Name, ID: idOf(rec), Version: versionOf(rec)}
	if !c.Sensitive {
		data.Record = rec
	}
	ev, err := bus.NewEvent(s.opts.Service, s.eventType("record."+action), data.ID, data)
	if err == nil && len(ev.Data()) > maxEventRecord && data.Record != nil {
		data.Record = nil
		ev, err = bus.NewEvent(s.opts.Service, s.eventType("record."+action), data.ID, data)
	}
	if err != nil {
		return outbox.Entry{}, err
	}
	return outbox.Prepare(ctx, ev)
}

// emitDeletes announces what a delete removed and changed: the record
// asked for, those removed by cascades, and those whose relation was set
// to null.
func (s *Service) emitDeletes(ctx context.Context, tx *store.Tx, deleted []records.Deleted, changed []records.Changed) error {
	for _, d := range deleted {
		if err := s.emitRecord(ctx, tx, actionDeleted, d.Collection, d.Record); err != nil {
			return err
		}
	}
	for _, c := range changed {
		if err := s.emitRecord(ctx, tx, actionUpdated, c.Collection, c.New); err != nil {
			return err
		}
	}
	return nil
}

// emitCollection writes a collection event to the outbox in tx.
func (s *Service) emitCollection(ctx context.Context, tx *store.Tx, verb string, name string, version int64) error {
	ev, err := bus.NewEvent(s.opts.Service, s.eventType("collection."+verb), name,
		CollectionEvent{Name: name, Version: version})
	if err != nil {
		return err
	}
	tx.OnCommit(s.Records.ChangedAll) // a table made again under the same name starts empty
	return s.Outbox.Enqueue(ctx, tx, ev)
}

func idOf(rec records.Record) string {
	id, _ := rec["id"].(string)
	return id
}

// versionOf reads a record's version, however the store typed it.
func versionOf(rec records.Record) int64 {
	switch v := rec["version"].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		if v == math.Trunc(v) {
			return int64(v)
		}
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}
