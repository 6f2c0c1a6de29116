package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/testenv"
)

// dnsServer is a tiny authoritative DNS server on 127.0.0.1 (UDP) whose
// answers the test changes, as a headless Service's records change when
// pods come and go.
type dnsServer struct {
	conn net.PacketConn
	mu   sync.Mutex
	recs map[string][]netip.Addr // name (with final dot) → addresses
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc, recs: map[string][]netip.Addr{}}
	go s.serve()
	t.Cleanup(func() { pc.Close() })
	return s
}

func (s *dnsServer) set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.recs[name+"."] = as
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.mu.Lock()
		addrs, known := s.recs[strings.ToLower(q.Name.String())]
		s.mu.Unlock()
		rcode := dnsmessage.RCodeSuccess
		if !known {
			rcode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: rcode})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		for _, a := range addrs {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				_ = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
			case q.Type == dnsmessage.TypeAAAA && a.Is6():
				_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
		}
		msg, err := b.Finish()
		if err == nil {
			_, _ = s.conn.WriteTo(msg, from)
		}
	}
}

// resolver asks only this server, over UDP.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

type recordSink struct {
	mu  sync.Mutex
	got [][]string
}

func (r *recordSink) SetTargets(ts []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, slices.Clone(ts))
	return nil
}

func (r *recordSink) last() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return nil
	}
	return r.got[len(r.got)-1]
}

func TestDNSWatchFollowsRecords(t *testing.T) {
	srv := startDNS(t)
	const name = "auth.bam.svc.cluster.local"
	srv.set(name, "10.0.0.1", "10.0.0.2", "fd00::3")

	sink := &recordSink{}
	targets := discovery.NewTargets(sink, []string{"http://static:8081"})
	d := discovery.DNS{Resolver: srv.resolver(), Interval: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	raw := "dns+http://" + name + ":8081"
	go func() {
		defer close(done)
		d.Watch(ctx, raw, func(ts []string) error { return targets.Set(raw, ts) })
	}()
	defer func() { cancel(); <-done }()

	want := []string{"http://10.0.0.1:8081", "http://10.0.0.2:8081", "http://[fd00::3]:8081", "http://static:8081"}
	testenv.WaitFor(t, 5*time.Second, "the first answer", func() bool { return slices.Equal(sink.last(), want) })

	srv.set(name, "10.0.0.2", "10.0.0.4") // a pod replaced, the IPv6 one gone
	want = []string{"http://10.0.0.2:8081", "http://10.0.0.4:8081", "http://static:8081"}
	testenv.WaitFor(t, 5*time.Second, "the changed answer", func() bool { return slices.Equal(sink.last(), want) })

	srv.mu.Lock()
	delete(srv.recs, name+".") // NXDOMAIN: the Service was deleted
	srv.mu.Unlock()
	testenv.WaitFor(t, 5*time.Second, "the name's removal", func() bool { return slices.Equal(sink.last(), []string{"http://static:8081"}) })
}

func TestDNSFailureKeepsReplicas(t *testing.T) {
	srv := startDNS(t)
	srv.set("api.local", "10.1.0.1")
	sink := &recordSink{}
	targets := discovery.NewTargets(sink, nil)
	d := discovery.DNS{Resolver: srv.resolver(), Interval: 30 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Watch(ctx, "dns+http://api.local", func(ts []string) error { return targets.Set("dns", ts) })
	}()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, 5*time.Second, "the answer", func() bool { return slices.Equal(sink.last(), []string{"http://10.1.0.1:80"}) })
	srv.conn.Close() // the DNS server dies: lookups time out
	time.Sleep(200 * time.Millisecond)
	if got := sink.last(); !slices.Equal(got, []string{"http://10.1.0.1:80"}) {
		t.Fatalf("after DNS failure targets = %v, want the last known", got)
	}
}

func TestParseDNS(t *testing.T) {
	for _, tc := range []struct {
		raw, scheme, host, port string
		ok                      bool
	}{
		{"dns+http://auth.bam.svc.cluster.local:8081", "http", "auth.bam.svc.cluster.local", "8081", true},
		{"dns+https://auth", "https", "auth", "443", true},
		{"dns+http://auth/", "http", "auth", "80", true},
		{"http://auth:8081", "", "", "", false},
		{"dns+ftp://auth", "", "", "", false},
		{"dns+http://auth:8081/v1", "", "", "", false},
		{"dns+http://:8081", "", "", "", false},
	} {
		scheme, host, port, err := discovery.ParseDNS(tc.raw)
		if (err == nil) != tc.ok || scheme != tc.scheme || host != tc.host || port != tc.port {
			t.Errorf("ParseDNS(%q) = %q %q %q %v", tc.raw, scheme, host, port, err)
		}
	}
}

// countingResolver answers every name with one address and counts lookups.
type countingResolver struct{ n atomic.Int64 }

func (r *countingResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	r.n.Add(1)
	return []net.IPAddr{{IP: net.ParseIP("10.2.0.1")}}, nil
}

// TestDNSFollow: Follow answers before it returns, and its watch looks
// the name up again only an Interval later, not at once.
func TestDNSFollow(t *testing.T) {
	res := &countingResolver{}
	d := discovery.DNS{Resolver: res, Interval: 200 * time.Millisecond}
	var got []string
	watch := d.Follow(t.Context(), "dns+http://api.local:8081", func(ts []string) error { got = ts; return nil })
	if !slices.Equal(got, []string{"http://10.2.0.1:8081"}) || res.n.Load() != 1 {
		t.Fatalf("after Follow: targets %v, %d lookups; want the answer from one lookup", got, res.n.Load())
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); watch(ctx) }()
	time.Sleep(100 * time.Millisecond)
	if n := res.n.Load(); n != 1 {
		t.Errorf("%d lookups within half an Interval of Follow, want 1", n)
	}
	testenv.WaitFor(t, 5*time.Second, "the watch's lookup", func() bool { return res.n.Load() >= 2 })
	// Then one lookup per Interval, not one after the other.
	n := res.n.Load()
	time.Sleep(500 * time.Millisecond)
	if m := res.n.Load() - n; m > 4 {
		t.Errorf("%d lookups in 2.5 Intervals, want about 2", m)
	}
	cancel()
	<-done
}
