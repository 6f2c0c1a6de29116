package httpx_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/bamhq/bam/internal/httpx"
)

func TestClientIP(t *testing.T) {
	lan, err := httpx.ParsePrefixes([]string{"10.0.0.0/8", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies trusted: the peer", "203.0.113.9:443", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: its X-Forwarded-For ignored", "203.0.113.9:443", []string{"198.51.100.1"}, lan, "203.0.113.9"},
		{"trusted peer: the hop it appended", "10.1.2.3:5000", []string{"198.51.100.1"}, lan, "198.51.100.1"},
		{"right-most untrusted hop, forged hops left of it ignored", "10.1.2.3:5000",
			[]string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, lan, "198.51.100.1"},
		{"hops across header lines", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.1", "10.0.0.7"}, lan, "198.51.100.1"},
		{"garbage ends the chain", "10.1.2.3:5000", []string{"198.51.100.1, nonsense, 10.0.0.7"}, lan, "10.0.0.7"},
		{"all hops trusted: the left-most", "10.1.2.3:5000", []string{"10.0.0.8, 10.0.0.7"}, lan, "10.0.0.8"},
		{"trusted peer without header: the peer", "127.0.0.1:0", nil, lan, "127.0.0.1"},
		{"IPv6 loopback peer", "[::1]:8080", []string{"2001:db8::1"}, lan, "2001:db8::1"},
		{"IPv4-mapped hop unmapped", "10.1.2.3:5000", []string{"::ffff:198.51.100.1"}, lan, "198.51.100.1"},
		{"unparseable peer", "somewhere", []string{"198.51.100.1"}, lan, "::"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := httpx.ClientIP(r, tc.trusted).String(); got != tc.want {
				t.Fatalf("ClientIP = %s; want %s", got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := httpx.ParsePrefixes([]string{"10.1.2.3/8", " 192.0.2.1 ", "::ffff:192.0.2.2", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "192.0.2.2/32", "2001:db8::/32"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("prefix %d = %s; want %s", i, p, want[i])
		}
	}
	if _, err := httpx.ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("10.0.0.0/33 accepted")
	}
	if _, err := httpx.ParsePrefixes([]string{"gateway"}); err == nil {
		t.Error("a host name accepted")
	}
}
