// Package inbox runs durable, idempotent consumers of bus events.
//
// A Consumer pulls from a JetStream durable consumer and applies each event
// in one transaction on the consuming service's own database: it records
// (consumer, event id) in bam_inbox and runs the handler in the same
// transaction. A redelivered event finds its row and is acknowledged without
// running the handler again, so an effect is applied exactly once however
// often JetStream delivers. A failing (or panicking) handler rolls back and
// the event is redelivered after a backoff; after MaxDeliver deliveries, or at
// once for a malformed message, it is written to bam_dead_letters and
// terminated.
package inbox

import (
	"context"
	"embed"
	"time"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates bam_inbox and bam_dead_letters; apply it with the
// service's own migrations.
var Migrations = store.Embedded("inbox", migrations, "migrations")

// Prune deletes the inbox rows of events processed before olderThan. Keep
// them at least as long as the stream keeps events (bus.Options.StreamMaxAge):
// an event redelivered after its row is gone would be applied again.
func Prune(ctx context.Context, db *store.DB, olderThan time.Time) (int64, error) {
	res, err := db.SQL().ExecContext(ctx, `DELETE FROM bam_inbox WHERE processed_at < $1`, olderThan.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
