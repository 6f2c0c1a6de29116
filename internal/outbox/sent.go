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
// no such transaction comes for Options.DeleteDelay — the outbox has gone
// quiet — the relay deletes them itself, as it does before it stops.
//
// A row is deleted only once it has been published for
// Options.KeepPublished: the embedded NATS server flushes its store to
// disk every bus.EmbeddedSyncInterval (and not as it stops), so an event
// it acknowledged can still be lost to an OS crash or a power loss for
// that long, and its row, kept, publishes it again on restart. Rows still
// kept when the relay stops are published again by the next one. Either
// way JetStream drops them as duplicates within its window and idempotent
// consumers (internal/inbox) drop any that get past it, as after a crash
// between publish and delete. Not kept: the rows a pass published while
// another of its rows failed, and parked rows published on retry, which
// that pass deletes at once, as on PostgreSQL.
//
// One range covers them: rows are numbered in commit order (SQLite commits
// one transaction at a time, and AUTOINCREMENT never reuses a number), a
// pass moves the cursor only when it published every row it read, and a
// row a pass could not publish stays after the cursor until one does or it
// is parked. The range can hold parked rows (passes read past them), which
// the delete leaves.
type sentRows struct {
	keep time.Duration // Options.KeepPublished

	mu      sync.Mutex
	through int64      // the cursor: every row up to it that is not parked is published
	deleted int64      // every row up to it that is not parked is deleted
	passes  []sentPass // the passes whose rows are not all deleted, oldest first
}

// sentPass is a pass that published all of its rows: its last row, and
// when.
type sentPass struct {
	last int64
	at   time.Time
}

// published moves the cursor to last, the last row of a pass that
// published all of its rows at at.
func (s *sentRows) published(last int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last > s.through {
		s.through = last
		s.passes = append(s.passes, sentPass{last: last, at: at})
	}
}

// cursor returns the seq after which passes read.
func (s *sentRows) cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.through
}

// due returns the rows that may be deleted at now, (from, through], and
// when the oldest of the others may be (zero when there are none).
func (s *sentRows) due(now time.Time) (from, through int64, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, through = s.deleted, s.deleted
	for _, p := range s.passes {
		if ready := p.at.Add(s.keep); ready.After(now) {
			return from, through, ready
		}
		through = p.last
	}
	return from, through, time.Time{}
}

// dropped records that the rows up to through are deleted.
func (s *sentRows) dropped(through int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = max(s.deleted, through)
	n := 0
	for n < len(s.passes) && s.passes[n].last <= s.deleted {
		n++
	}
	s.passes = s.passes[n:]
}

// deleteSent deletes in tx the published rows that are due, at most
// deleteMax of them (a backlog drained while no write came goes a slice
// at a time), and marks them deleted once tx commits; it reports whether
// there were any. It runs once per transaction that adds to the outbox
// (Add registers it to run before the commit), and in the relay's own
// transaction when the outbox is quiet. A transaction that rolls back
// leaves them to the next one.
func (o *Outbox) deleteSent(ctx context.Context, tx *store.Tx) (bool, error) {
	from, through, _ := o.sent.due(time.Now())
	through = min(through, from+o.deleteMax())
	if through <= from {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM bam_outbox WHERE seq > $1 AND seq <= $2 AND parked_at IS NULL`, from, through); err != nil {
		return false, fmt.Errorf("outbox: delete published: %w", err)
	}
	tx.OnCommit(func() { o.sent.dropped(through) })
	return true, nil
}

// deleteMax bounds the rows one statement of deleteSent deletes: ten
// passes' worth.
func (o *Outbox) deleteMax() int64 { return 10 * int64(o.opts.BatchSize) }

// deleteSentBefore is deleteSent as the work of a transaction that adds to
// the outbox: housekeeping that must not fail the caller's change, so a
// failure is logged and the rows are left for the next transaction.
func (o *Outbox) deleteSentBefore(ctx context.Context, tx *store.Tx) error {
	if _, err := o.deleteSent(ctx, tx); err != nil {
		o.log.Warn("outbox: deleting published events in a write failed; they are deleted later", "err", err)
	}
	return nil
}

// settleWait returns how long the relay waits, with published rows not
// yet deleted, for a transaction to delete them before it does (see
// settleSent); ok is false when no row waits.
func (o *Outbox) settleWait(now time.Time) (wait time.Duration, ok bool) {
	if o.sent == nil {
		return 0, false
	}
	from, through, next := o.sent.due(now)
	switch {
	case through > from:
		return o.opts.DeleteDelay, true
	case !next.IsZero():
		return max(o.opts.DeleteDelay, next.Sub(now)), true
	}
	return 0, false
}

// settleSent deletes the published rows that are due in a transaction of
// the relay's own, and reports whether it deleted any; a failure leaves
// them for the next transaction or the next try.
func (o *Outbox) settleSent(ctx context.Context) bool {
	if o.sent == nil || ctx.Err() != nil {
		return false // a killed relay leaves them, as a crash would
	}
	if from, through, _ := o.sent.due(time.Now()); through <= from {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var deleted bool
	err := o.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		deleted, err = o.deleteSent(ctx, tx)
		return err
	})
	if err != nil {
		o.log.Warn("outbox relay: deleting published events failed; they are deleted later", "err", err)
		return false
	}
	return deleted
}
