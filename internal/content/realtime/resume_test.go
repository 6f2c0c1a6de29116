package realtime_test

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/testenv"
)

func TestResumeReplaysExactlyTheMissedMatches(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	sub := sseRequest{user: "alice", subscribe: []string{"posts/*"}}
	s, _ := connectSSE(t, srv, sub)
	hub.Publish(seqChange(1, "posts", "p1", "public", true))
	if d := s.nextChange(t); d.Seq != 1 {
		t.Fatalf("change = %+v", d)
	}
	s.close()

	hub.Publish(seqChange(2, "posts", "p2", "public", true))
	hub.Publish(seqChange(3, "posts", "p3", "owner", "bob")) // not alice's to see
	hub.Publish(seqChange(4, "notes", "n4", "owner", "alice"))
	hub.Publish(seqChange(5, "posts", "p5", "owner", "alice"))

	sub.lastEventID = "1"
	s = openSSE(t, srv, sub)
	if ev := s.next(t); ev.Event != "connect" || ev.ID != "1" {
		t.Fatalf("connect = %+v, want id 1 (the resume point)", ev)
	}
	var got []changeData
	for range 2 {
		got = append(got, s.nextChange(t))
	}
	if !slices.Equal(seqs(got), []uint64{2, 5}) {
		t.Fatalf("replayed %v, want [2 5]", seqs(got))
	}
	hub.Publish(seqChange(6, "posts", "p6", "public", true))
	if d := s.nextChange(t); d.Seq != 6 {
		t.Fatalf("live change = %+v", d)
	}
	s.quiet(t, settle)

	// A connection that saw no change resumes from its connect id.
	quiet, _ := connectSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"notes/*"}})
	quiet.close()
	fresh := openSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"notes/*"}})
	if ev := fresh.next(t); ev.ID != "6" {
		t.Fatalf("connect = %+v, want id 6", ev)
	}
	hub.Publish(seqChange(7, "notes", "n7", "owner", "alice"))
	resumed := openSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"notes/*"}, lastEventID: "6"})
	resumed.next(t)
	if d := resumed.nextChange(t); d.Seq != 7 {
		t.Fatalf("change = %+v", d)
	}
}

func TestResumeOutsideTheWindowResets(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{WindowSize: 5})
	for i := uint64(1); i <= 20; i++ {
		hub.Publish(seqChange(i, "posts", "p", "public", true))
	}
	newest := uint64(20)
	for _, tc := range []struct{ last, reason string }{
		{"3", "too_old"}, {"14", "too_old"}, {"999", "ahead"}, {"x", "invalid"},
	} {
		s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: tc.last})
		if ev := s.next(t); ev.Event != "connect" || ev.ID != strconv.FormatUint(newest, 10) {
			t.Fatalf("%s: connect = %+v, want id %d", tc.last, ev, newest)
		}
		if ev := s.next(t); ev.Event != "reset" || ev.Data != `{"reason":"`+tc.reason+`"}` {
			t.Fatalf("%s: second event = %+v, want reset %s", tc.last, ev, tc.reason)
		}
		newest++
		hub.Publish(seqChange(newest, "posts", "p", "public", true))
		if d := s.nextChange(t); d.Seq != newest {
			t.Fatalf("%s: after the reset got %+v, want only the live change %d", tc.last, d, newest)
		}
		s.close()
	}

	// The oldest resumable id is the last one evicted.
	hub2, srv2 := newServer(t, realtime.Options{WindowSize: 5})
	for i := uint64(1); i <= 20; i++ {
		hub2.Publish(seqChange(i, "posts", "p", "public", true))
	}
	s := openSSE(t, srv2, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "15"})
	s.next(t)
	var got []changeData
	for range 5 {
		got = append(got, s.nextChange(t))
	}
	if !slices.Equal(seqs(got), []uint64{16, 17, 18, 19, 20}) {
		t.Fatalf("replayed %v", seqs(got))
	}

	// A replica that has seen nothing cannot vouch for anything, until
	// it is told its position.
	hub3, srv3 := newServer(t, realtime.Options{})
	s = openSSE(t, srv3, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "7"})
	if s.next(t); s.next(t).Data != `{"reason":"unknown"}` {
		t.Fatal("want reset unknown")
	}
	hub3.SetPosition(7)
	s = openSSE(t, srv3, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "7"})
	if ev := s.next(t); ev.ID != "7" {
		t.Fatalf("connect = %+v", ev)
	}
	hub3.Publish(seqChange(8, "posts", "p", "public", true))
	if d := s.nextChange(t); d.Seq != 8 {
		t.Fatalf("change = %+v", d)
	}
}

func TestPublishDropsRedeliveries(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	s, _ := connectSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}})
	before := testenv.Metric(t, "bam_realtime_dropped_total", "reason", "duplicate")
	hub.Publish(seqChange(5, "posts", "p", "public", true))
	hub.Publish(seqChange(5, "posts", "p", "public", true))
	hub.Publish(seqChange(4, "posts", "p", "public", true))
	hub.Publish(seqChange(6, "posts", "p", "public", true))
	if got := seqs([]changeData{s.nextChange(t), s.nextChange(t)}); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("got %v", got)
	}
	if d := testenv.Metric(t, "bam_realtime_dropped_total", "reason", "duplicate") - before; d != 2 {
		t.Fatalf("duplicates counted = %v", d)
	}
}

func TestResumeReplayLargerThanTheSendQueue(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{SendQueue: 8})
	hub.SetPosition(0)
	for i := uint64(1); i <= 1000; i++ {
		hub.Publish(seqChange(i, "posts", "p", "public", true))
	}
	s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "0"})
	s.next(t)
	for want := uint64(1); want <= 1000; want++ {
		if d := s.nextChange(t); d.Seq != want {
			t.Fatalf("got %d, want %d", d.Seq, want)
		}
	}
	hub.Publish(seqChange(1001, "posts", "p", "public", true))
	if d := s.nextChange(t); d.Seq != 1001 {
		t.Fatalf("live change %d", d.Seq)
	}
}

// TestResumeSkipsUnencodable: a change whose record cannot be encoded
// keeps its place in the window but is not replayed (it was written with
// no body, as invalid JSON).
func TestResumeSkipsUnencodable(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	hub.SetPosition(0)
	hub.Publish(seqChange(1, "posts", "p1", "public", true, "bad", math.NaN()))
	hub.Publish(seqChange(2, "posts", "p2", "public", true))
	s := openSSE(t, srv, sseRequest{subscribe: []string{"posts/*"}, lastEventID: "0"})
	if ev := s.next(t); ev.Event != "connect" {
		t.Fatalf("first event = %+v, want connect", ev)
	}
	if d := s.nextChange(t); d.Seq != 2 {
		t.Fatalf("replayed %+v, want only change 2", d)
	}
}

// A change whose record comes as JSON only (as the content service
// publishes what it follows) reaches the matchers decoded: live, and when
// resuming connections replay it at once.
func TestChangesWithTheirRecordAsJSONAreMatchedLiveAndOnResume(t *testing.T) {
	hub, srv := newServer(t, realtime.Options{})
	hub.SetPosition(0)
	encoded := func(seq uint64, id, fields string) realtime.Change {
		return realtime.Change{Seq: seq, Action: "created", Collection: "posts", ID: id,
			RecordJSON: []byte(`{"id":"` + id + `","seq":` + strconv.FormatUint(seq, 10) + `,` + fields + `}`)}
	}
	live, _ := connectSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"}})
	hub.Publish(encoded(1, "p1", `"public":true`))
	hub.Publish(encoded(2, "p2", `"owner":"bob"`))
	hub.Publish(encoded(3, "p3", `"owner":"alice","views":7`))
	var got []changeData
	for range 2 {
		got = append(got, live.nextChange(t))
	}
	if !slices.Equal(seqs(got), []uint64{1, 3}) || got[1].Record["views"] != 7.0 {
		t.Fatalf("live: %+v, want changes 1 and 3 with their records", got)
	}
	live.close()

	// Published with no connection: kept encoded until these replay them,
	// all at once.
	hub.Publish(encoded(4, "p4", `"owner":"alice"`))
	hub.Publish(encoded(5, "p5", `"public":false`))
	hub.Publish(encoded(6, "p6", `"public":true`))
	const resuming = 4
	streams := make([]*sseStream, resuming)
	for i := range streams {
		streams[i] = openSSE(t, srv, sseRequest{user: "alice", subscribe: []string{"posts/*"}, lastEventID: "3"})
	}
	for i, s := range streams {
		s.next(t) // connect
		var got []uint64
		for range 2 {
			got = append(got, s.nextChange(t).Seq)
		}
		if !slices.Equal(got, []uint64{4, 6}) {
			t.Fatalf("connection %d replayed %v, want [4 6]", i, got)
		}
	}
}
