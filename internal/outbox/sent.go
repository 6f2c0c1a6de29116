package outbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// Published rows on SQLite are deleted late. Deleting them is a write
// transaction, and SQLite has one writer: under a write load the relay's
// delete held the writer for a commit and a flush to disk at every pass,
// while the service's own writes queued behind it. So a pass on SQLite
// only moves a cursor past the rows it published (the next pass reads
// after it), and the delete rides on the next transaction that adds to the
// outbox, as one more statement before its commit (Add arranges it). When
// no such transaction comes for Options.SettleDelay — the outbox has gone
// quiet — the relay deletes them itself, and it does before it stops.
//
// A crash before the delete publishes those rows again on restart, as a
// crash between publish and delete always could: JetStream drops them as
// duplicates within its window and idempotent consumers (internal/inbox)
// drop any that get past it.
//
// One range covers them: rows are numbered in commit order (SQLite commits
// one transaction at a time, and AUTOINCREMENT never reuses a number), a
// pass moves the cursor only when it published every row it read, and a
// row a pass could not publish stays after the cursor until one does. The
// range can hold parked rows (passes read past them), which the delete
// leaves.
type sentRows struct {
	mu      sync.Mutex
	through int64 // the cursor: every row up to it that is not parked is published
	deleted int64 // every row up to it that is not parked is deleted
}

// published moves the cursor to seq, the last row of a pass that published
// all of its rows.
func (s *sentRows) published(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.through = max(s.through, seq)
}

// cursor returns the seq after which passes read.
func (s *sentRows) cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.through
}

// unsettled reports whether published rows wait to be deleted.
func (s *sentRows) unsettled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.through > s.deleted
}

// deleteSent deletes in tx the rows published and not yet deleted, and
// marks them deleted once tx commits. It runs once per transaction that
// adds to the outbox (Add registers it to run before the commit), and in
// the relay's own transaction when the outbox is quiet. A transaction
// that rolls back leaves them to the next one.
func (o *Outbox) deleteSent(ctx context.Context, tx *store.Tx) error {
	s := o.sent
	s.mu.Lock()
	from, through := s.deleted, s.through
	s.mu.Unlock()
	if through <= from {
		return nil
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM bam_outbox WHERE seq > $1 AND seq <= $2 AND parked_at IS NULL`, from, through); err != nil {
		return fmt.Errorf("outbox: delete published: %w", err)
	}
	tx.OnCommit(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.deleted = max(s.deleted, through)
	})
	return nil
}

// settleSent deletes the published rows in a transaction of the relay's
// own; a failure leaves them for the next transaction or the next try.
func (o *Outbox) settleSent(ctx context.Context) {
	if o.sent == nil || !o.sent.unsettled() || ctx.Err() != nil {
		return // a killed relay leaves them, as a crash would
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := o.db.InTx(ctx, func(tx *store.Tx) error { return o.deleteSent(ctx, tx) }); err != nil {
		o.log.Warn("outbox relay: deleting published events failed; they are deleted later", "err", err)
	}
}
