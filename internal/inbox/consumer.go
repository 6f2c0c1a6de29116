package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// Handler applies one event. It must make its effects through tx only: they
// commit together with the inbox row, or not at all. Returning an error (or
// panicking) rolls back and schedules a redelivery.
type Handler func(ctx context.Context, tx *store.Tx, ev bus.Event) error

// Consumer is a durable consumer of one service's events. Fill in the
// exported fields, then Start; a Consumer runs once.
type Consumer struct {
	// Name is the JetStream durable name and the inbox key: replicas with
	// the same Name share the work; [A-Za-z0-9_-]+.
	Name string
	// Service whose stream (bus.StreamName) is consumed.
	Service string
	// Subjects filter the stream, e.g. "bam.auth.user.created" or
	// "bam.auth.user.*"; empty means every event of Service.
	Subjects []string
	Handler  Handler
	DB       *store.DB // the consuming service's database, with Migrations applied
	Bus      *bus.Bus
	Logger   *slog.Logger
	// MaxDeliver is how many deliveries a failing event gets before it is
	// dead-lettered; default 5. A failure that says nothing against the
	// event (transient: the database unavailable, Stop) is retried past it.
	MaxDeliver int
	// Backoff[i] is the wait before delivery i+2 after a failure; the last
	// entry repeats. Default 1s, 5s, 15s, 30s.
	Backoff []time.Duration
	// AckWait is how long a delivery may take before JetStream redelivers
	// it; also the handler's deadline. Default 30s.
	AckWait time.Duration

	mu   sync.Mutex
	log  *slog.Logger
	iter jetstream.MessagesContext
	quit chan struct{}
	kill context.CancelFunc
	done chan struct{}
}

// Start creates or updates the durable consumer (and the stream, so start
// order between services does not matter) and starts processing. ctx scopes
// the start only.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return fmt.Errorf("inbox: consumer %s already started", c.Name)
	}
	if err := c.defaults(); err != nil {
		return err
	}
	if len(c.Subjects) > 1 && !c.Bus.ServerAtLeast(2, 10) {
		return fmt.Errorf("inbox: consumer %s: several Subjects need nats-server 2.10+, connected to %s",
			c.Name, c.Bus.Conn().ConnectedServerVersion())
	}
	iter, err := c.open(ctx)
	if err != nil {
		return err
	}
	runCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	c.iter, c.quit, c.kill, c.done = iter, make(chan struct{}), kill, make(chan struct{})
	go c.run(runCtx)
	return nil
}

// open creates or updates the stream and the durable consumer, and
// returns an iterator over its messages.
func (c *Consumer) open(ctx context.Context) (jetstream.MessagesContext, error) {
	if err := c.Bus.EnsureStream(ctx, c.Service); err != nil {
		return nil, err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        c.Name,
		FilterSubjects: c.Subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
		// Unlimited on the server: MaxDeliver is enforced here, so that an
		// event is only dropped once its dead letter is written.
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(c.Subjects) == 1 {
		// FilterSubjects needs nats-server 2.10+; older servers ignore it
		// and would deliver everything. One subject works everywhere.
		cfg.FilterSubject, cfg.FilterSubjects = c.Subjects[0], nil
	}
	cons, err := c.Bus.JetStream().CreateOrUpdateConsumer(ctx, bus.StreamName(c.Service), cfg)
	if err != nil {
		return nil, fmt.Errorf("inbox: consumer %s: %w", c.Name, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return nil, fmt.Errorf("inbox: consumer %s: %w", c.Name, err)
	}
	return iter, nil
}

// reopen replaces an iterator that closed without Stop (its durable
// consumer or the stream was deleted), retrying with backoff until it
// succeeds or Stop is called; false when stopping.
func (c *Consumer) reopen(ctx context.Context) bool {
	wait := 100 * time.Millisecond
	for {
		c.log.Warn("inbox: the consumer went away; making it again", "retry_in", wait)
		select {
		case <-c.quit:
			return false
		case <-time.After(wait):
		}
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		iter, err := c.open(octx)
		cancel()
		if err != nil {
			wait = min(2*wait, 5*time.Second)
			continue
		}
		c.mu.Lock()
		select {
		case <-c.quit: // Stop drained the old iterator meanwhile
			c.mu.Unlock()
			iter.Stop()
			return false
		default:
		}
		c.iter = iter
		c.mu.Unlock()
		return true
	}
}

// Stop waits for the event in flight to be applied and stops. Events already
// fetched but not started are handed back at once (Nak) for another replica.
// If ctx ends first, the event in flight is abandoned (rolled back) and will
// be redelivered.
func (c *Consumer) Stop(ctx context.Context) error {
	c.mu.Lock()
	kill, done := c.kill, c.done
	if done != nil {
		// Under c.mu, so that the iterator drained is the current one:
		// reopen installs a new one only while quit is open.
		select {
		case <-c.quit:
		default:
			close(c.quit)
			c.iter.Drain()
		}
	}
	c.mu.Unlock()
	if done == nil {
		return nil
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

func (c *Consumer) defaults() error {
	switch {
	case c.Name == "" || strings.ContainsAny(c.Name, ".*> \t\r\n"):
		return fmt.Errorf("inbox: consumer name %q: want [A-Za-z0-9_-]+", c.Name)
	case c.Handler == nil || c.DB == nil || c.Bus == nil:
		return fmt.Errorf("inbox: consumer %s: Handler, DB and Bus are required", c.Name)
	}
	if c.Logger == nil {
		c.Logger = c.Bus.Logger()
	}
	c.log = c.Logger.With("component", "inbox", "consumer", c.Name)
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	return nil
}

func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	for {
		c.mu.Lock()
		iter := c.iter
		c.mu.Unlock()
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			select {
			case <-c.quit:
				return
			default:
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return // the bus is closed for good: nothing to reopen on
			}
			if !c.reopen(ctx) {
				return
			}
			continue
		}
		if err != nil {
			c.log.Warn("inbox: fetch", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-c.quit:
			}
			continue
		}
		select {
		case <-c.quit:
			_ = msg.Nak() // stopping: let another replica have it now
			continue
		default:
		}
		c.handle(ctx, msg)
	}
}

// handle processes one delivery under a consumer span that continues the
// publisher's trace.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	start := time.Now()
	deliveries := uint64(1)
	if meta, err := msg.Metadata(); err == nil {
		deliveries = meta.NumDelivered
	}
	ctx, span := bus.StartProcessSpan(ctx, msg.Subject(), msg.Headers(),
		attribute.String("messaging.consumer.group.name", c.Name),
		attribute.Int64("messaging.nats.delivered", int64(deliveries)))
	ctx, cancel := context.WithTimeout(ctx, c.AckWait)
	result, err := c.process(ctx, msg, deliveries)
	cancel()
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attribute.String("bam.consume.result", result))
	span.End()
	consumedTotal.WithLabelValues(c.Name, result).Inc()
	consumeDuration.WithLabelValues(c.Name).Observe(time.Since(start).Seconds())
}

// process applies the event once, then settles the delivery: Ack when
// applied (now or before), NakWithDelay after a failure, Term once
// dead-lettered.
func (c *Consumer) process(ctx context.Context, msg jetstream.Msg, deliveries uint64) (result string, err error) {
	ev, err := bus.Decode(msg.Data())
	if err != nil {
		return c.deadLetter(ctx, msg, "", deliveries, err, resultMalformed), err
	}
	result = resultDuplicate
	err = c.DB.InTx(ctx, func(tx *store.Tx) error {
		result = resultDuplicate
		res, err := tx.ExecContext(ctx,
			`INSERT INTO bam_inbox (consumer, event_id, processed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			c.Name, ev.ID(), time.Now().UTC())
		if err != nil {
			return fmt.Errorf("inbox: record %s: %w", ev.ID(), err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // applied before: commit nothing more
		}
		result = resultOK
		return c.call(ctx, tx, ev)
	})
	if err == nil {
		if aerr := msg.Ack(); aerr != nil {
			// The effect is committed; a redelivery will be a duplicate.
			c.log.Warn("inbox: ack", "event", ev.ID(), "err", aerr)
		}
		return result, nil
	}
	if deliveries >= uint64(c.MaxDeliver) && !transient(err) {
		return c.deadLetter(ctx, msg, ev.ID(), deliveries, err, resultDeadLetter), err
	}
	delay := c.Backoff[min(int(deliveries)-1, len(c.Backoff)-1)]
	c.log.Warn("inbox: handler failed, will retry", "event", ev.ID(), "type", ev.Type(),
		"delivery", deliveries, "retry_in", delay, "err", err)
	if nerr := msg.NakWithDelay(delay); nerr != nil {
		c.log.Warn("inbox: nak", "event", ev.ID(), "err", nerr)
	}
	return resultRetry, err
}

// transient reports whether err says nothing against the event: Stop
// abandoned it (its context canceled), the database is unavailable, or a
// commit's outcome is unknown (it may even have been applied). Such a
// failure is retried however many deliveries it took, never dead-lettered.
func transient(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, store.ErrCommitUnknown) || errs.KindOf(err) == errs.Unavailable
}

// call runs the handler, turning a panic into an error so the transaction
// rolls back and the consumer lives on.
func (c *Consumer) call(ctx context.Context, tx *store.Tx, ev bus.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("inbox: handler panicked", "event", ev.ID(), "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("inbox: handler panicked: %v", r)
		}
	}()
	return c.Handler(ctx, tx, ev)
}
