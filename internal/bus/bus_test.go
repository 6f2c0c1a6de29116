package bus_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next reads the next message of a service's stream from an ordered consumer.
func next(t *testing.T, c jetstream.Consumer) jetstream.Msg {
	t.Helper()
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("next message: %v", err)
	}
	return m
}

func orderedConsumer(t *testing.T, b *bus.Bus, svc string) jetstream.Consumer {
	t.Helper()
	c, err := b.JetStream().OrderedConsumer(ctxT(t), bus.StreamName(svc), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newEvent(t testing.TB, svc, subject string) bus.Event {
	t.Helper()
	ev, err := bus.NewEvent(svc, "bam."+svc+".user.created", subject, map[string]string{"id": subject})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestPublishConsume(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		ctx := ctxT(t)
		if err := b.Ready(ctx); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		svc := bustest.Service(t, b)
		ev := newEvent(t, svc, "u1")
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		m := next(t, orderedConsumer(t, b, svc))
		if m.Subject() != ev.Type() || m.Headers().Get(nats.MsgIdHdr) != ev.ID() {
			t.Errorf("got subject %q msg-id %q, want %q %q", m.Subject(), m.Headers().Get(nats.MsgIdHdr), ev.Type(), ev.ID())
		}
		got, err := bus.Decode(m.Data())
		if err != nil || got.ID() != ev.ID() || got.Subject() != "u1" {
			t.Errorf("decoded %v, %v; want %v", got, err, ev)
		}
	})
}

func TestPublishWithoutStream(t *testing.T) {
	b := bustest.Open(t, bustest.Embedded)
	ev := newEvent(t, "nostream", "u1")
	if err := b.Publish(ctxT(t), ev); err == nil {
		t.Fatal("publish to a service without a stream: want error")
	}
}

func TestDedupByMsgID(t *testing.T) {
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		ctx := ctxT(t)
		svc := bustest.Service(t, b)
		ev := newEvent(t, svc, "u1")
		msg, err := bus.NewMessage(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		// The same event published three times, as an outbox relay would
		// after crashing between publish and mark-sent.
		for i := range 3 {
			for _, err := range b.PublishBatch(ctx, []bus.Message{msg, msg}) {
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
			}
		}
		s, err := b.JetStream().Stream(ctx, bus.StreamName(svc))
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 1 {
			t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
		}
		if info.Config.Duplicates != bus.DuplicateWindow {
			t.Errorf("duplicate window %v, want %v", info.Config.Duplicates, bus.DuplicateWindow)
		}
	})
}

func TestEnsureStreamIdempotentAndValidated(t *testing.T) {
	b := bustest.Open(t, bustest.Embedded)
	ctx := ctxT(t)
	for range 2 {
		if err := b.EnsureStream(ctx, "auth"); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", "Auth", "a.b", "a*", "a b"} {
		if err := b.EnsureStream(ctx, bad); err == nil {
			t.Errorf("EnsureStream(%q): want error", bad)
		}
	}
}

func TestEmbeddedNoListenOpensNoPort(t *testing.T) {
	before := listeningPorts(t)
	b := bustest.Open(t, bustest.Embedded)
	if b.URL() != "" {
		t.Errorf("URL() = %q, want empty without a listener", b.URL())
	}
	if after := listeningPorts(t); len(after) != len(before) {
		t.Errorf("listening ports went from %v to %v", before, after)
	}
}

func TestEmbeddedListen(t *testing.T) {
	before := listeningPorts(t)
	b, err := bus.Open(ctxT(t), bus.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: bustest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if after := listeningPorts(t); len(after) != len(before)+1 {
		t.Errorf("listening ports went from %v to %v, want one more", before, after)
	}
	// Another process (here: another bus) reaches it as an external server.
	other, err := bus.Open(ctxT(t), bus.Options{URL: b.URL(), Logger: bustest.Logger()})
	if err != nil {
		t.Fatalf("connect to embedded listener %s: %v", b.URL(), err)
	}
	defer other.Close()
	if err := other.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedRestartKeepsStream(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	open := func() *bus.Bus {
		b, err := bus.Open(ctx, bus.Options{DataDir: dir, Logger: bustest.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if err := b.EnsureStream(ctx, "auth"); err != nil {
		t.Fatal(err)
	}
	ev := newEvent(t, "auth", "u1")
	if err := b.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open()
	defer b.Close()
	m := next(t, orderedConsumer(t, b, "auth"))
	if got, err := bus.Decode(m.Data()); err != nil || got.ID() != ev.ID() {
		t.Errorf("after restart got %v, %v; want event %s", got, err, ev.ID())
	}
}

func TestOpenExternalUnreachable(t *testing.T) {
	_, err := bus.Open(ctxT(t), bus.Options{URL: "nats://user:secret@127.0.0.1:1", Logger: bustest.Logger()})
	if err == nil {
		t.Fatal("want error")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks credentials: %v", err)
	}
	if !errors.Is(err, nats.ErrNoServers) {
		t.Logf("error: %v", err)
	}
}

// listeningPorts returns the TCP ports this process listens on, from /proc.
func listeningPorts(t *testing.T) []int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, file := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !mine[fields[9]] {
				continue
			}
			local := fields[1]
			p, _ := strconv.ParseInt(local[strings.LastIndex(local, ":")+1:], 16, 32)
			ports = append(ports, int(p))
		}
		f.Close()
	}
	return ports
}

// TestEnsureStreamKeepsOperatorChanges: an existing stream's limits, set
// by an operator after bam made it, survive EnsureStream (which every
// service start and follower reconnection calls); a stream that lost the
// service's subjects gets them back.
func TestEnsureStreamKeepsOperatorChanges(t *testing.T) {
	b := bustest.Open(t, bustest.Embedded)
	ctx := ctxT(t)
	svc := bustest.Service(t, b)
	if err := b.EnsureStream(ctx, svc); err != nil {
		t.Fatal(err)
	}
	st, err := b.JetStream().Stream(ctx, bus.StreamName(svc))
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxAge, cfg.Duplicates, cfg.Subjects = 30*24*time.Hour, 2*time.Minute, []string{"other." + svc + ".>"}
	if _, err := b.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureStream(ctx, svc); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Config; got.MaxAge != 30*24*time.Hour || got.Duplicates != 2*time.Minute ||
		!slices.Contains(got.Subjects, bus.StreamSubjects(svc)) || !slices.Contains(got.Subjects, "other."+svc+".>") {
		t.Fatalf("after EnsureStream: max age %v, duplicates %v, subjects %v", got.MaxAge, got.Duplicates, got.Subjects)
	}
}
