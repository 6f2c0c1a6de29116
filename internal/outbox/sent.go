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
// quiet — the relay deletes them itself, and it does before it stops.
//
// A row is deleted only once it has been published for
// Options.KeepPublished: the embedded NATS server flushes its store to
// disk every second, so an event it acknowledged can still be lost to an
// OS crash or a power loss for that long, and its row, kept, publishes it
// again on restart. A crash before the delete publishes those rows again,
// as a crash between publish and delete always could: JetStream drops
// them as duplicates within its window and idempotent consumers
// (internal/inbox) drop any that get past it.
//
// One range covers them: rows are numbered in commit order (SQLite commits
// one transaction at a time, and AUTOINCREMENT never reuses a number), a
// pass moves the cursor only when it published every row it read, and a
// row a pass could not publish stays after the cursor until one does. The
// range can hold parked rows (passes read past them), which the delete
// leaves.
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

// deleteSent deletes in tx the published rows that are due (all of them
// when all is set) and marks them deleted once tx commits. It runs once
// per transaction that adds to the outbox (Add registers it to run before
// the commit), and in the relay's own transaction when the outbox is
// quiet. A transaction that rolls back leaves them to the next one.
func (o *Outbox) deleteSent(ctx context.Context, tx *store.Tx, all bool) error {
	from, through, _ := o.sent.due(time.Now())
	if all {
		through = o.sent.cursor()
	}
	if through <= from {
		return nil
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM bam_outbox WHERE seq > $1 AND seq <= $2 AND parked_at IS NULL`, from, through); err != nil {
		return fmt.Errorf("outbox: delete published: %w", err)
	}
	tx.OnCommit(func() { o.sent.dropped(through) })
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

// settleSent deletes the published rows that are due, or all of them, in
// a transaction of the relay's own, and reports whether it did; a failure
// leaves them for the next transaction or the next try.
func (o *Outbox) settleSent(ctx context.Context, all bool) bool {
	if o.sent == nil || ctx.Err() != nil {
		return false // a killed relay leaves them, as a crash would
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := o.db.InTx(ctx, func(tx *store.Tx) error { return o.deleteSent(ctx, tx, all) }); err != nil {
		o.log.Warn("outbox relay: deleting published events failed; they are deleted later", "err", err)
		return false
	}
	return true
}
