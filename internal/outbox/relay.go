package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	json "github.com/segmentio/encoding/json"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/store"
)

// errOtherRelay ends a pass that found another replica relaying.
var errOtherRelay = errors.New("outbox: another replica is relaying")

// otherRelayWait is how soon a replica that found another relaying tries
// again.
const otherRelayWait = 100 * time.Millisecond

// row is one claimed outbox row.
type row struct {
	seq int64
	msg bus.Message
	err error // why it was parked (settle)
}

// run is the relay loop: a pass, then wait for a wake, the poll or Stop.
// After a pass that made no progress because of errors it backs off, so a
// NATS outage costs a few attempts, not a busy loop.
func (o *Outbox) run(ctx context.Context) {
	defer close(o.done)
	defer o.settleSent(ctx) // those that are due; the next relay publishes the others again (sentRows)
	backoff := time.Duration(0)
	o.metrics.countParked(ctx, o.db)
	parkedDue := time.Now().Add(o.opts.ParkedRetry)
	for {
		if time.Now().After(parkedDue) && !o.stopping() {
			o.retryParked(ctx)
			parkedDue = time.Now().Add(o.opts.ParkedRetry)
		}
		began := time.Now()
		claimed, sent, _, err := o.pass(ctx, selection{})
		if ctx.Err() != nil {
			return
		}
		wait, hold := o.opts.PollInterval, time.Time{}
		switch {
		case errors.Is(err, errOtherRelay):
			// Soon again: its pass may have begun before this replica's
			// commit woke it, and the gauges are the other replica's to set.
			backoff, wait = 0, min(wait, otherRelayWait)
		case err != nil && sent == 0:
			backoff = min(max(2*backoff, 100*time.Millisecond), o.opts.MaxBackoff)
			wait = backoff
			o.log.Warn("outbox relay pass failed", "err", err, "retry_in", backoff)
		case err != nil:
			o.log.Warn("outbox relay: some events not published", "err", err, "sent", sent)
			backoff, wait = 0, 0
		case sent == o.opts.BatchSize:
			backoff, wait = 0, 0 // a full batch: more are likely waiting
		default:
			backoff = 0
			if sent > 0 {
				hold = began.Add(o.opts.Linger) // a wake before then waits for it
			}
		}
		if !errors.Is(err, errOtherRelay) {
			o.metrics.update(ctx, o.db, claimed, o.cursor())
		}
		if o.stopping() {
			return
		}
		if wait == 0 {
			continue
		}
		wake := o.wake
		if backoff > 0 {
			wake = nil // a commit does not cut a backoff short
		}
		if settle, ok := o.settleWait(time.Now()); ok && backoff == 0 {
			// Published rows wait for a transaction to delete them
			// (sentRows); when no commit wakes the relay soon, it
			// deletes those that are due itself.
			quiet := min(wait, settle)
			woken, ok := o.sleep(quiet, wake)
			if !ok {
				return
			}
			switch {
			case woken:
				wait = 0
			case o.settleSent(ctx):
				wait = 0 // a pass, then the wait for the rows not due yet
			default:
				wait -= quiet
			}
		}
		if _, ok := o.sleep(wait, wake); !ok {
			return
		}
		if _, ok := o.sleep(time.Until(hold), nil); !ok {
			return
		}
	}
}

// retryParked tries every parked row again, in order, a batch at a time,
// and recounts them.
func (o *Outbox) retryParked(ctx context.Context) {
	defer o.metrics.countParked(ctx, o.db) // also when others took them
	sel := selection{parked: true}
	tried, sent := 0, 0
	var errs []error
	for {
		claimed, n, last, err := o.pass(ctx, sel)
		tried, sent = tried+claimed, sent+n
		if errors.Is(err, errOtherRelay) {
			return
		}
		errs = append(errs, err)
		if claimed < o.opts.BatchSize || ctx.Err() != nil || o.stopping() {
			break
		}
		sel.after = last
	}
	switch err := errors.Join(errs...); {
	case tried == 0:
	case err != nil:
		o.log.Warn("outbox relay: parked events still not published", "err", err, "sent", sent, "tried", tried)
	default:
		o.log.Info("outbox relay: parked events published", "sent", sent)
	}
}

// stopping reports whether Stop was called.
func (o *Outbox) stopping() bool {
	select {
	case <-o.quit:
		return true
	default:
		return false
	}
}

// sleep waits for d to pass or a wake, whichever comes first, and reports
// whether a wake came, and ok false when Stop came first. It returns at
// once when d is not positive.
func (o *Outbox) sleep(d time.Duration, wake <-chan struct{}) (woken, ok bool) {
	if d <= 0 {
		return false, true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-o.quit:
		return false, false
	case <-wake:
		return true, true
	case <-t.C:
		return false, true
	}
}

// pass publishes one batch of rows and deletes those JetStream stored. On
// PostgreSQL one replica relays at a time (a transaction-scoped advisory
// lock: two replicas sharing the rows would publish a later batch before
// an earlier one still being published, out of order), and its rows stay
// locked from claim to delete; on SQLite, which one process owns, they are
// read without a transaction so enqueuers are not blocked behind the
// publish, and a pass that published all of its rows leaves them to be
// deleted later (sentRows). sel chooses the rows; last is the seq of the
// last one claimed.
//
// On PostgreSQL the pass's commit does not wait for its WAL to reach the
// disk (synchronous_commit off for this transaction only, set in the
// lock's statement): a delete lost in a crash only republishes those
// rows, in order, which idempotent consumers (internal/inbox) drop — a
// restart inside JetStream's short duplicate window drops them earlier —
// and every commit that waits is a disk flush, one per pass.
func (o *Outbox) pass(ctx context.Context, sel selection) (claimed, sent int, last int64, err error) {
	var parkedNow []row
	if o.db.Dialect() == store.Postgres {
		var pubErr error
		err = o.db.InTx(ctx, func(tx *store.Tx) error {
			parkedNow = nil
			var mine bool
			if err := tx.QueryRowContext(ctx,
				`SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.bam_outbox')),
					set_config('synchronous_commit', 'off', true)`).Scan(&mine, new(string)); err != nil {
				return err
			} else if !mine {
				return errOtherRelay // its pass publishes these rows, in order
			}
			rows, err := o.claim(ctx, tx, sel, " FOR UPDATE SKIP LOCKED")
			claimed = len(rows)
			if err != nil || len(rows) == 0 {
				return err
			}
			last = rows[len(rows)-1].seq
			errs := o.publish(ctx, rows)
			if err := ctx.Err(); err != nil {
				return err // killed between publish and delete: the rows stay
			}
			pubErr = errors.Join(errs...)
			sent, parkedNow, err = o.settle(ctx, tx, rows, errs, sel.parked)
			return err
		})
		if err == nil {
			o.reportParked(ctx, parkedNow)
		}
		return claimed, sent, last, errors.Join(err, pubErr)
	}
	rows, err := o.claim(ctx, o.db.SQL(), sel, "")
	if err != nil || len(rows) == 0 {
		return 0, 0, 0, err
	}
	last = rows[len(rows)-1].seq
	errs := o.publish(ctx, rows)
	if err := ctx.Err(); err != nil {
		return len(rows), 0, last, err
	}
	if !sel.parked && !slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
		o.sent.published(last, time.Now()) // deleted later (sentRows)
		return len(rows), len(rows), last, nil
	}
	err = o.db.InTx(ctx, func(tx *store.Tx) error {
		sent, parkedNow, err = o.settle(ctx, tx, rows, errs, sel.parked)
		return err
	})
	if err == nil {
		o.reportParked(ctx, parkedNow)
	}
	return len(rows), sent, last, errors.Join(err, errors.Join(errs...))
}

// selection chooses a pass's rows: those not parked, or the parked ones
// after seq after.
type selection struct {
	parked bool
	after  int64
}

// claim reads the next batch of the rows sel chooses, in order: parked
// ones, or those after the cursor that are not.
func (o *Outbox) claim(ctx context.Context, q store.Querier, sel selection, lock string) ([]row, error) {
	which, args := "parked_at IS NULL AND seq > $2", []any{o.opts.BatchSize, o.cursor()}
	if sel.parked {
		which, args = "parked_at IS NOT NULL AND seq > $2", []any{o.opts.BatchSize, sel.after}
	}
	rs, err := q.QueryContext(ctx,
		`SELECT seq, id, subject, payload, headers FROM bam_outbox WHERE `+which+` ORDER BY seq LIMIT $1`+lock, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	defer rs.Close()
	var rows []row
	for rs.Next() {
		var (
			r       row
			headers string
		)
		if err := rs.Scan(&r.seq, &r.msg.ID, &r.msg.Subject, &r.msg.Data, &headers); err != nil {
			return nil, fmt.Errorf("outbox: claim: %w", err)
		}
		r.msg.Header = nats.Header{}
		if err := json.Unmarshal([]byte(headers), &r.msg.Header); err != nil {
			o.log.Warn("outbox: unreadable headers, publishing without them", "id", r.msg.ID, "err", err)
			r.msg.Header = nats.Header{}
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return rows, nil
}

// reportParked logs the rows a pass has just parked and recounts them.
func (o *Outbox) reportParked(ctx context.Context, rows []row) {
	if len(rows) == 0 {
		return
	}
	for _, r := range rows {
		o.log.Error("outbox relay: parked an event that keeps failing while others are published; it is tried again every "+
			o.opts.ParkedRetry.String(), "id", r.msg.ID, "subject", r.msg.Subject, "failures", o.opts.ParkAfter, "err", r.err)
	}
	o.metrics.countParked(ctx, o.db)
}

// publish sends the rows and waits for their acks, bounded so a stalled
// server cannot hold the rows' locks forever.
func (o *Outbox) publish(ctx context.Context, rows []row) []error {
	msgs := make([]bus.Message, len(rows))
	for i, r := range rows {
		msgs[i] = r.msg
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	errs := o.bus.PublishBatch(pctx, msgs)
	if o.afterPublish != nil {
		o.afterPublish()
	}
	return errs
}

// settle deletes the published rows and records the failures on the
// others, and returns those it parked. A failure while other rows of the
// pass went out is the row's own: it counts towards parking it, which
// takes ParkAfter such passes over ParkFailingFor at least (a stream
// that is down for a few seconds parks nothing). Its error
// is the database's only: publish failures are recorded, not returned, so
// the transaction that records them commits.
func (o *Outbox) settle(ctx context.Context, tx *store.Tx, rows []row, errs []error, parked bool) (sent int, parkedNow []row, err error) {
	lone := !parked && slices.Contains(errs, nil)
	now := time.Now().UTC()
	var done []string
	var args []any
	for i, r := range rows {
		if errs[i] == nil {
			args = append(args, r.seq)
			done = append(done, "$"+strconv.Itoa(len(args)))
			continue
		}
		msg := truncate(errs[i].Error(), 1000)
		if !lone {
			if _, err := tx.ExecContext(ctx,
				`UPDATE bam_outbox SET attempts = attempts + 1, last_error = $1 WHERE seq = $2`, msg, r.seq); err != nil {
				return 0, nil, fmt.Errorf("outbox: record failure: %w", err)
			}
			continue
		}
		var isParked bool
		if err := tx.QueryRowContext(ctx,
			`UPDATE bam_outbox SET attempts = attempts + 1, last_error = $1, lone_failures = lone_failures + 1,
				failing_since = COALESCE(failing_since, $4),
				parked_at = CASE WHEN lone_failures + 1 >= $3 AND failing_since <= $5 THEN $4 END
			WHERE seq = $2 RETURNING parked_at IS NOT NULL`,
			msg, r.seq, o.opts.ParkAfter, now, now.Add(-o.opts.ParkFailingFor)).Scan(&isParked); err != nil {
			return 0, nil, fmt.Errorf("outbox: record failure: %w", err)
		}
		if isParked {
			r.err = errs[i]
			parkedNow = append(parkedNow, r)
		}
	}
	if len(done) > 0 {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM bam_outbox WHERE seq IN (`+strings.Join(done, ",")+`)`, args...); err != nil {
			return 0, nil, fmt.Errorf("outbox: delete sent: %w", err)
		}
	}
	return len(done), parkedNow, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
