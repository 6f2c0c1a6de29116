package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
)

// Message is an encoded event ready to publish: what the outbox stores and
// the relay hands back. Header carries the trace context captured when the
// message was built, so a trace continues through the outbox.
type Message struct {
	ID      string // event id, sent as Nats-Msg-Id
	Subject string // event type
	Data    []byte // structured-mode CloudEvents JSON
	Header  nats.Header
}

// NewMessage encodes ev and captures the trace context of ctx.
func NewMessage(ctx context.Context, ev Event) (Message, error) {
	data, err := Encode(ev)
	if err != nil {
		return Message{}, err
	}
	h := nats.Header{}
	InjectTrace(ctx, h)
	return Message{ID: ev.ID(), Subject: ev.Type(), Data: data, Header: h}, nil
}

// Publish sends one event and waits for JetStream to store it. Prefer the
// outbox: publishing directly after a commit loses the event if the process
// dies in between.
func (b *Bus) Publish(ctx context.Context, ev Event) error {
	m, err := NewMessage(ctx, ev)
	if err != nil {
		return err
	}
	return b.PublishBatch(ctx, []Message{m})[0]
}

// PublishBatch sends msgs asynchronously, in order, and waits for every
// JetStream ack. errs[i] is nil when msgs[i] is stored (or was a duplicate
// JetStream dropped by Nats-Msg-Id). Order holds on the happy path; a message
// retried after a failure may land after later ones.
func (b *Bus) PublishBatch(ctx context.Context, msgs []Message) (errs []error) {
	errs = make([]error, len(msgs))
	type pending struct {
		i   int
		fut jetstream.PubAckFuture
		end func(error)
	}
	waits := make([]pending, 0, len(msgs))
	for i, m := range msgs {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		_, span := startPublishSpan(ctx, m)
		end := func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
		fut, err := b.js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header},
			jetstream.WithMsgID(m.ID))
		if err != nil {
			errs[i] = fmt.Errorf("bus: publish %s %s: %w", m.Subject, m.ID, err)
			end(errs[i])
			publishedTotal.WithLabelValues(m.Subject, "error").Inc()
			continue
		}
		waits = append(waits, pending{i, fut, end})
	}
	for _, p := range waits {
		m := msgs[p.i]
		var err error
		result := "ok"
		select {
		case ack := <-p.fut.Ok():
			if ack.Duplicate {
				result = "duplicate"
			}
		case err = <-p.fut.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			err = fmt.Errorf("bus: publish %s %s: %w", m.Subject, m.ID, err)
			result = "error"
		}
		errs[p.i] = err
		p.end(err)
		publishedTotal.WithLabelValues(m.Subject, result).Inc()
	}
	return errs
}
