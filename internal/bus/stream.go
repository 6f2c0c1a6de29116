package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id to drop a
// republished event. It only saves work: consumers are idempotent
// (internal/inbox records processed ids), so a duplicate arriving after the
// window, e.g. an outbox row republished after a long outage, is harmless.
// It covers the outbox relay's own retries (seconds) and costs the server
// memory for every id it remembers: at 7,000 events/s, the nats-server
// default of 2 minutes held about 100 MB of ids (a minute of content
// creates peaked at 339 MB of RSS with it, 315 with 20 s); 20 s holds a
// sixth.
const DuplicateWindow = 20 * time.Second

// StreamName is the JetStream stream holding a service's events.
func StreamName(service string) string {
	return "BAM_" + strings.ToUpper(service)
}

// StreamSubjects is the subject filter of a service's stream.
func StreamSubjects(service string) string {
	return "bam." + service + ".>"
}

// EnsureStream makes sure the stream of a service exists: BAM_<SERVICE>,
// subjects bam.<service>.>, file storage, Options.StreamReplicas copies.
// It creates a missing stream; an existing one is left as it is — an
// operator may have changed its limits or replicas, and rewriting them at
// every start would undo that — except that it gets the service's subjects
// if it lacks them, and Options.StreamReplicas when that is set and
// differs. It is idempotent, so every process that publishes or consumes a
// service's events may call it at start.
func (b *Bus) EnsureStream(ctx context.Context, service string) error {
	if err := validService(service); err != nil {
		return err
	}
	name := StreamName(service)
	st, err := b.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		maxAge := b.opts.StreamMaxAge
		if maxAge == 0 {
			maxAge = 7 * 24 * time.Hour
		}
		_, err = b.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        name,
			Description: "bam " + service + " events",
			Subjects:    []string{StreamSubjects(service)},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      maxAge,
			Duplicates:  DuplicateWindow,
			Replicas:    max(b.opts.StreamReplicas, 1),
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another process created it meanwhile
		}
	} else if err == nil {
		cfg, changed := st.CachedInfo().Config, false
		if !slices.Contains(cfg.Subjects, StreamSubjects(service)) {
			cfg.Subjects, changed = append(cfg.Subjects, StreamSubjects(service)), true
		}
		if r := b.opts.StreamReplicas; r > 0 && cfg.Replicas != r {
			cfg.Replicas, changed = r, true
		}
		if changed {
			_, err = b.js.UpdateStream(ctx, cfg)
		}
	}
	if err != nil {
		return fmt.Errorf("bus: ensure stream %s: %w", name, err)
	}
	return nil
}

// validService accepts names usable both as one subject token and inside a
// stream name: lower-case letters, digits, '_' and '-'.
func validService(s string) error {
	if s == "" {
		return fmt.Errorf("bus: empty service name")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("bus: service name %q: want [a-z0-9_-]+", s)
		}
	}
	return nil
}
