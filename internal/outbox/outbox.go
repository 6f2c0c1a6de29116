// Package outbox publishes a service's events exactly when its transaction
// commits: the transactional outbox.
//
// A service enqueues events with Enqueue inside the transaction that makes
// the change they announce; they become rows of bam_outbox in the service's
// own database, committed or rolled back with the change. A relay goroutine
// publishes committed rows to JetStream with Nats-Msg-Id = event id, waits
// for the acks, then deletes the rows (on SQLite the next write
// transaction does: see sentRows). A crash between publish and delete
// republishes those rows on restart: JetStream drops them as duplicates
// within its window, and idempotent consumers (internal/inbox) drop any that
// get past it. So nothing is lost and nothing is applied twice.
//
// The relay wakes when a transaction that enqueued commits, and also polls,
// for rows left by a crash or written by other replicas. On PostgreSQL
// replicas claim rows with FOR UPDATE SKIP LOCKED and share the work; SQLite
// databases belong to one process. Events of one transaction keep their
// order; events of concurrent transactions are ordered by insert, not commit.
package outbox

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates bam_outbox; apply it with the service's own migrations.
var Migrations = store.Embedded("outbox", migrations, "migrations")

// Options configures an Outbox.
type Options struct {
	Logger *slog.Logger
	// PollInterval is how often the relay looks for rows it was not woken
	// for; default 1s.
	PollInterval time.Duration
	// BatchSize is how many rows one relay pass publishes; default 100.
	BatchSize int
	// MaxBackoff caps the wait after a pass that published nothing because
	// of errors; default 30s.
	MaxBackoff time.Duration
	// Linger is the least time between the starts of two passes while
	// commits keep waking the relay, so that a steady trickle of events
	// goes out a few to a pass rather than one: a pass costs a transaction
	// and a round of acks however few rows it carries. A wake after a pass
	// that found nothing (the first event after a quiet spell) starts one
	// at once, and a full batch is followed at once; default 20ms, and a
	// negative Linger turns it off.
	Linger time.Duration
	// ParkAfter is how many passes a row may fail while other rows of the
	// pass were published (a failure of its own: a message no stream
	// takes, or one too large) before it is parked: left out of the passes,
	// so that it no longer takes a place in every batch nor backs the relay
	// off when it is the only row left; default 5. Failures of a whole pass
	// (NATS down) never park a row: the rows wait, in order.
	ParkAfter int
	// ParkFailingFor is how long a row must have been failing on its own,
	// besides ParkAfter passes, before it is parked, so that a stream
	// down for a few seconds (a leader election) parks nothing; default 1m.
	ParkFailingFor time.Duration
	// ParkedRetry is how often the relay tries every parked row again, in
	// order; default 5m. One that goes out then is deleted as any other.
	ParkedRetry time.Duration
	// DeleteDelay is how long, on SQLite, published rows that are due
	// (see KeepPublished) wait for a transaction that adds to the outbox
	// to delete them before the relay deletes them in a transaction of its
	// own (see sentRows); default 100ms, and a negative DeleteDelay does
	// not wait.
	DeleteDelay time.Duration
	// KeepPublished is how long, on SQLite, a published row is kept
	// before it may be deleted, so that an event the bus acknowledged but
	// had not flushed to disk yet is published again after an OS crash;
	// default twice the bus's FlushDelay (200ms on the embedded server, 0 on
	// an external one), and a negative KeepPublished keeps none.
	KeepPublished time.Duration
}

// Outbox writes events into a service's database and relays them to the bus.
type Outbox struct {
	db   *store.DB
	bus  *bus.Bus
	opts Options
	log  *slog.Logger
	wake chan struct{}

	sent      *sentRows // SQLite: published rows not yet deleted; nil on PostgreSQL
	deleteKey string    // names deleteSent's work in a transaction (Tx.BeforeCommit)

	mu      sync.Mutex
	quit    chan struct{}      // closed by Stop: finish the pass, then exit
	kill    context.CancelFunc // abandons the pass in flight
	done    chan struct{}      // closed when the relay goroutine exits
	metrics relayMetrics

	afterPublish func() // test hook: runs between publish and delete
}

// New returns an Outbox on db publishing to b. db must have Migrations
// applied. b may be nil for an Outbox that only enqueues (one that is never
// started: a command line's).
func New(db *store.DB, b *bus.Bus, opts Options) *Outbox {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Linger == 0 {
		opts.Linger = 20 * time.Millisecond
	}
	if opts.ParkAfter <= 0 {
		opts.ParkAfter = 5
	}
	if opts.ParkFailingFor <= 0 {
		opts.ParkFailingFor = time.Minute
	}
	if opts.ParkedRetry <= 0 {
		opts.ParkedRetry = 5 * time.Minute
	}
	switch {
	case opts.DeleteDelay == 0:
		opts.DeleteDelay = 100 * time.Millisecond
	case opts.DeleteDelay < 0:
		opts.DeleteDelay = 0
	}
	switch {
	case opts.KeepPublished == 0 && b != nil: // nil: enqueues only (a command line)
		opts.KeepPublished = 2 * b.FlushDelay()
	case opts.KeepPublished < 0:
		opts.KeepPublished = 0
	}
	o := &Outbox{
		db: db, bus: b, opts: opts,
		log:     opts.Logger.With("component", "outbox", "db", db.Name()),
		wake:    make(chan struct{}, 1),
		metrics: newRelayMetrics(db.Name()),
	}
	if db.Dialect() == store.SQLite {
		o.sent = &sentRows{keep: opts.KeepPublished}
		o.deleteKey = fmt.Sprintf("outbox.deleteSent %p", o)
	}
	return o
}

// Enqueue writes events in tx, to be published once tx commits. The trace
// context of ctx travels with each event, so the consumer's span joins the
// trace of the request that caused it.
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, events ...bus.Event) error {
	entries := make([]Entry, len(events))
	for i, ev := range events {
		e, err := Prepare(ctx, ev)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	return o.Add(ctx, tx, entries...)
}

// An Entry is an event encoded as the outbox stores it. Encoding is most
// of an enqueue's cost: a write transaction that must be short (SQLite's
// single writer) takes entries Prepared before it began.
type Entry struct {
	msg     bus.Message
	headers string // msg.Header as JSON
}

// Prepare encodes ev for Add, with the trace context of ctx.
func Prepare(ctx context.Context, ev bus.Event) (Entry, error) {
	m, err := bus.NewMessage(ctx, ev)
	if err != nil {
		return Entry{}, fmt.Errorf("outbox: %w", err)
	}
	headers, err := json.Marshal(m.Header)
	if err != nil {
		return Entry{}, fmt.Errorf("outbox: headers of %s: %w", m.ID, err)
	}
	return Entry{msg: m, headers: string(headers)}, nil
}

// Add writes entries in tx, to be published once tx commits, as Enqueue
// does with events.
func (o *Outbox) Add(ctx context.Context, tx *store.Tx, entries ...Entry) error {
	now := time.Now().UTC()
	for _, e := range entries {
		m := e.msg
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO bam_outbox (id, subject, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)`,
			m.ID, m.Subject, m.Data, e.headers, now); err != nil {
			return fmt.Errorf("outbox: enqueue %s %s: %w", m.Subject, m.ID, err)
		}
	}
	if len(entries) > 0 {
		tx.OnCommit(o.Wake)
		if o.sent != nil {
			tx.BeforeCommit(o.deleteKey, func(ctx context.Context) error { return o.deleteSentBefore(ctx, tx) })
		}
	}
	return nil
}

// cursor returns the seq after which relay passes read rows that are not
// parked: on SQLite, the last published; 0 on PostgreSQL, which deletes
// them as it publishes them.
func (o *Outbox) cursor() int64 {
	if o.sent == nil {
		return 0
	}
	return o.sent.cursor()
}

// Wake makes the relay look for rows now rather than at its next poll.
// Enqueue and Add arrange it on commit; call it after writing rows some other way.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Start runs the relay until Stop. ctx only scopes the start: the relay
// keeps its values but not its cancellation.
func (o *Outbox) Start(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done != nil {
		return errors.New("outbox: already started")
	}
	runCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	o.quit, o.kill, o.done = make(chan struct{}), kill, make(chan struct{})
	go o.run(runCtx)
	return nil
}

// Stop lets the relay finish the pass in flight and waits for it. If ctx ends
// first, the pass is abandoned: its rows stay and are published again later.
func (o *Outbox) Stop(ctx context.Context) error {
	o.mu.Lock()
	quit, kill, done := o.quit, o.kill, o.done
	o.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-quit:
	default:
		close(quit)
	}
	defer kill()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		kill()
		<-done
		return ctx.Err()
	}
}
