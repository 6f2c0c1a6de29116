package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deadLetter records a delivery the consumer gives up on, then terminates
// it so JetStream stops redelivering. If the row cannot be written the
// delivery is retried later instead: an event is never dropped unrecorded.
// The row is unique per (consumer, event id), so a Term lost on the way
// cannot produce two.
func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, eventID string, deliveries uint64, cause error, result string) string {
	if eventID == "" {
		eventID = msg.Headers().Get(nats.MsgIdHdr)
	}
	if eventID == "" {
		if meta, err := msg.Metadata(); err == nil {
			eventID = fmt.Sprintf("stream:%d", meta.Sequence.Stream)
		}
	}
	// The handler's deadline may be what failed: recording must not share it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	id, err := uuid.NewV7()
	if err == nil {
		_, err = c.DB.SQL().ExecContext(ctx,
			`INSERT INTO bam_dead_letters (id, consumer, event_id, subject, payload, error, deliveries, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (consumer, event_id) DO NOTHING`,
			id.String(), c.Name, eventID, msg.Subject(), msg.Data(), truncate(cause.Error(), 4000),
			int64(deliveries), time.Now().UTC())
	}
	if err != nil {
		delay := c.Backoff[len(c.Backoff)-1]
		c.log.Error("inbox: cannot write dead letter, will retry", "event", eventID, "err", err, "cause", cause)
		_ = msg.NakWithDelay(delay)
		return resultRetry
	}
	deadLettersTotal.WithLabelValues(c.Name).Inc()
	c.log.Error("inbox: event dead-lettered", "event", eventID, "subject", msg.Subject(),
		"deliveries", deliveries, "err", cause)
	// Plain Term: a reason needs nats-server 2.10.4+, and the row has it.
	if err := msg.Term(); err != nil {
		c.log.Warn("inbox: term", "event", eventID, "err", err)
	}
	return result
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
