package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FollowOptions configure Follow.
type FollowOptions struct {
	// Service whose stream is read (BAM_<SERVICE>).
	Service string
	// Subjects filter the stream; empty means every event of Service.
	Subjects []string
	// Since makes the first delivery start this long ago, so a replica
	// that starts relearns recent state; 0 delivers only messages stored
	// from now on.
	Since time.Duration
	// FromSeq, when set, makes the first delivery start at this stream
	// sequence instead (e.g. the stream's last sequence + 1, read just
	// before, so that no message falls between what a caller knew and
	// what it follows).
	FromSeq uint64
	// What names the follower in logs ("revocations").
	What string
}

// Follow hands every message of a service's stream (filtered by
// o.Subjects) to fn, in stream order, until ctx is done; then it returns
// nil. It reads with an ordered consumer: ephemeral and unacknowledged, so
// every process that follows sees every message, unlike a durable consumer
// whose replicas share the work. Use it for state each replica keeps for
// itself (a deny-list, a cache, realtime fan-out); use internal/inbox for
// effects that must happen once.
//
// Follow ensures the stream exists. When the bus is unreachable or the
// consumer fails it retries with backoff, resuming after the last message
// fn got, so nothing is skipped or repeated across a reconnection. Only
// invalid options are returned as errors. fn runs on one goroutine at a
// time; msg.Metadata() has the stream sequence. Run Follow in its own
// goroutine.
func (b *Bus) Follow(ctx context.Context, o FollowOptions, fn func(msg jetstream.Msg)) error {
	if fn == nil {
		return errors.New("bus: follow needs a handler")
	}
	if err := validService(o.Service); err != nil {
		return fmt.Errorf("bus: follow: %w", err)
	}
	log := b.Logger().With("component", "follow", "service", o.Service, "what", o.What)
	f := &follower{b: b, o: o, fn: fn, start: time.Now().Add(-o.Since)}
	wait := 100 * time.Millisecond
	for {
		err := f.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("following "+o.What+" failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// follower is one Follow: where it started and the last sequence handed on.
type follower struct {
	b     *Bus
	o     FollowOptions
	fn    func(jetstream.Msg)
	start time.Time

	// mu is held while a message is handed on: across a consumer's reset
	// two subscriptions may deliver at once (see run).
	mu   sync.Mutex
	last atomic.Uint64 // stream sequence of the last message given to fn; 0: none yet
}

// run consumes until ctx is done or the consumer fails.
func (f *follower) run(ctx context.Context) error {
	if err := f.b.EnsureStream(ctx, f.o.Service); err != nil {
		return err
	}
	subjects, local := f.o.Subjects, []string(nil)
	if len(subjects) > 1 && !f.b.ServerAtLeast(2, 10) {
		// Several filter subjects need nats-server 2.10+: an older one
		// delivers the whole stream, filtered here.
		subjects, local = nil, subjects
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects}
	switch last := f.last.Load(); {
	case last > 0: // resuming after a failure
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
	case f.o.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.o.FromSeq
	default:
		// From the start time (now, for Since 0), fixed at Follow's call so
		// that a failure before the first message resumes from there.
		start := f.start
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := f.b.JetStream().OrderedConsumer(ctx, StreamName(f.o.Service), cfg)
	if err != nil {
		return fmt.Errorf("bus: follow %s: %w", f.o.What, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		// An ordered consumer that resets (a reconnection, a missed
		// heartbeat) subscribes again while the handler may still run
		// on the old subscription's goroutine: f.mu keeps fn to one
		// call at a time, in stream order.
		f.mu.Lock()
		defer f.mu.Unlock()
		if meta, err := msg.Metadata(); err == nil {
			if meta.Sequence.Stream <= f.last.Load() {
				return // already handed on before a reconnection
			}
			f.last.Store(meta.Sequence.Stream)
		}
		if local != nil && !slices.ContainsFunc(local, func(p string) bool { return SubjectMatches(p, msg.Subject()) }) {
			return
		}
		f.fn(msg)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		f.b.Logger().Warn("bus: follow "+f.o.What, "service", f.o.Service, "err", err)
	}))
	if err != nil {
		return fmt.Errorf("bus: follow %s: %w", f.o.What, err)
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-cc.Closed():
		return fmt.Errorf("bus: follow %s: consumer closed", f.o.What)
	}
}

// LastSeq returns the sequence of the last message stored in a service's
// stream (0 when it is empty), ensuring the stream exists.
func (b *Bus) LastSeq(ctx context.Context, service string) (uint64, error) {
	if err := b.EnsureStream(ctx, service); err != nil {
		return 0, err
	}
	st, err := b.JetStream().Stream(ctx, StreamName(service))
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", StreamName(service), err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", StreamName(service), err)
	}
	return info.State.LastSeq, nil
}

// ServerAtLeast reports whether the NATS server the bus is connected to
// is at least version major.minor (false when it cannot tell).
func (b *Bus) ServerAtLeast(major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(b.Conn().ConnectedServerVersion(), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// SubjectMatches reports whether subject matches pattern, a NATS subject
// whose tokens may be * (any one token) or, last, > (one or more).
func SubjectMatches(pattern, subject string) bool {
	ps, ss := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range ps {
		switch {
		case p == ">":
			return i == len(ps)-1 && len(ss) > i
		case i >= len(ss), p != "*" && p != ss[i]:
			return false
		}
	}
	return len(ps) == len(ss)
}
