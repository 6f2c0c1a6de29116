package gateway_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/bamhq/bam/internal/gateway"
)

// upstreamFunc is an in-process upstream: it sees the request exactly as
// the gateway forwards it.
type upstreamFunc func(*http.Request) *http.Response

func (f upstreamFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r), nil }

// recordingGateway serves routes (each to the upstream "up") and returns
// the gateway and a func that returns the last request the upstream got.
func recordingGateway(t testing.TB, trusted []netip.Prefix, routes ...gateway.Route) (*gateway.Gateway, func() *http.Request) {
	t.Helper()
	var last *http.Request
	up := upstreamFunc(func(r *http.Request) *http.Response {
		last = r
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}
	})
	g, err := gateway.New(gateway.Table{Routes: routes, Upstreams: map[string]http.RoundTripper{"up": up},
		TrustedProxies: trusted}, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return g, func() *http.Request { r := last; last = nil; return r }
}

// Trusted proxy ranges of FuzzForwarded: a peer in them may vouch for
// X-Forwarded-For hops.
var fuzzTrusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// FuzzForwarded sends a request from any peer address with any
// X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded
// (RFC 7239), X-Real-IP and Host headers, to a gateway with trusted proxies
// or without, and checks what the upstream receives: no panic; from an
// untrusted peer, none of the client's forwarding headers reach it
// (X-Forwarded-For is the peer alone, the proto is the connection's, the
// host the request's); from a trusted one, the client is the right-most
// hop no trusted proxy vouches for, never a hop left of it; the client's
// X-Real-IP never reaches it (the gateway sends none); and every
// forwarding header the upstream sees parses.
func FuzzForwarded(f *testing.F) {
	for _, s := range []struct {
		peer          []byte
		trust         bool
		xff, xfp, xfh string
		fwd, hh, xri  string
	}{
		{[]byte{203, 0, 113, 7}, false, "1.2.3.4", "https", "evil.example", "for=1.2.3.4;proto=https;host=evil.example", "api.example.com", "1.2.3.4"},
		{[]byte{10, 0, 0, 2}, true, "198.51.100.9, 10.0.0.3", "https", "api.example.com", "", "api.example.com", "6.6.6.6"},
		{[]byte{10, 0, 0, 2}, false, "", "", "", "", "h", "127.0.0.1\n::1"},
		{[]byte{10, 0, 0, 2}, true, "6.6.6.6, 198.51.100.9, 10.1.1.1", "", "", "", "api.example.com:8443", ""},
		{[]byte{10, 0, 0, 2}, true, "garbage, 198.51.100.9", "", "", "", "h", ""},
		{[]byte{10, 0, 0, 2}, true, "198.51.100.9, garbage", "", "", "", "h", ""},
		{[]byte{10, 0, 0, 2}, true, "10.0.0.9, 10.2.3.4", "", "", "", "h", ""},
		{[]byte{10, 0, 0, 2}, true, "1.1.1.1\n2.2.2.2, 10.0.0.5", "", "", "", "h", ""},
		{[]byte{10, 0, 0, 2}, true, "[2001:db8::1]:80, ::ffff:10.0.0.1", "", "", "", "h", ""},
		{[]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, true, "2001:db8::7, fd12::1", "", "", `for="[2001:db8::7]:80"`, "[::1]:80", ""},
		{[]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, true, "10.0.0.1", "http", "", `for=unknown, for=_hidden;by="[fd00::1]"`, "", ""},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2}, true, "203.0.113.1", "", "", "", "h", ""}, // IPv4-mapped peer
		{[]byte{127, 0, 0, 1}, false, "fe80::1%eth0", "HTTPS", "a b", `for="\"`, "h", ""},
	} {
		f.Add(s.peer, s.trust, s.xff, s.xfp, s.xfh, s.fwd, s.hh, s.xri)
	}
	route := gateway.Route{Prefix: "/", Upstream: "up", Auth: gateway.AuthNone}
	open, openReceived := recordingGateway(f, nil, route)
	behind, behindReceived := recordingGateway(f, fuzzTrusted, route)
	f.Fuzz(func(t *testing.T, peerBytes []byte, trust bool, xff, xfp, xfh, fwd, host, xri string) {
		peerIP, ok := netip.AddrFromSlice(peerBytes)
		if !ok {
			return // net/http's RemoteAddr is always an IP and a port
		}
		g, received, trusted := open, openReceived, []netip.Prefix(nil)
		if trust {
			g, received, trusted = behind, behindReceived, fuzzTrusted
		}
		req := httptest.NewRequest("GET", "http://gateway/x", nil)
		req.RemoteAddr = netip.AddrPortFrom(peerIP, 40000).String()
		if httpguts.ValidHostHeader(host) && host != "" {
			req.Host = host
		}
		set := func(name, value string) {
			for _, v := range strings.Split(value, "\n") {
				if v != "" && httpguts.ValidHeaderFieldValue(v) {
					req.Header.Add(name, v)
				}
			}
		}
		set("X-Forwarded-For", xff)
		set("X-Forwarded-Proto", xfp)
		set("X-Forwarded-Host", xfh)
		set("Forwarded", fwd)
		set("X-Real-Ip", xri)
		sentXFF := req.Header.Values("X-Forwarded-For")

		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		out := received()
		if out == nil {
			t.Fatalf("not forwarded: %d %s", rec.Code, rec.Body)
		}

		hops := parseXFF(t, out.Header.Values("X-Forwarded-For"))
		peer := peerIP.Unmap()
		if got := out.Header.Values("X-Real-Ip"); len(got) != 0 {
			t.Errorf("X-Real-IP %q reached the upstream, want none", got)
		}
		if !trust || !inPrefixes(peer, trusted) {
			if len(hops) != 1 || hops[0] != peer {
				t.Errorf("untrusted peer %s: X-Forwarded-For %q reached the upstream, want the peer alone", peer, out.Header.Values("X-Forwarded-For"))
			}
		} else if want := rightmostUntrusted(peer, sentXFF, trusted); len(hops) == 0 || hops[0] != want {
			t.Errorf("trusted peer %s, X-Forwarded-For %q: upstream sees client %v, want %s", peer, sentXFF, hops, want)
		} else {
			allowed := map[netip.Addr]bool{peer: true}
			for _, h := range sentXFF {
				for _, hop := range strings.Split(h, ",") {
					if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil {
						allowed[a.Unmap()] = true
					}
				}
			}
			for _, h := range hops {
				if !allowed[h] {
					t.Errorf("X-Forwarded-For hop %s was neither sent nor the peer", h)
				}
			}
		}
		if got := out.Header.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
			t.Errorf("X-Forwarded-Proto %q on a plain-HTTP connection, want http", got)
		}
		if got := out.Header.Values("X-Forwarded-Host"); len(got) != 1 || got[0] != req.Host || !httpguts.ValidHostHeader(got[0]) {
			t.Errorf("X-Forwarded-Host %q, want the requested host %q", got, req.Host)
		}
		if vs := out.Header.Values("Forwarded"); len(vs) > 0 {
			elems := parseForwarded(t, vs)
			if f := elems[len(elems)-1]["for"]; f != peer.String() && f != "["+peer.String()+"]" &&
				!strings.HasPrefix(f, "["+peer.String()+"]:") && !strings.HasPrefix(f, peer.String()+":") {
				t.Errorf("Forwarded %q: last for= is not the peer %s", vs, peer)
			}
		}
	})
}

// parseXFF parses the X-Forwarded-For the upstream received; every hop
// must be an IP address.
func parseXFF(t *testing.T, values []string) []netip.Addr {
	t.Helper()
	var hops []netip.Addr
	for _, v := range values {
		for _, hop := range strings.Split(v, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				t.Fatalf("X-Forwarded-For %q sent upstream: hop %q is not an IP", values, hop)
			}
			hops = append(hops, a.Unmap())
		}
	}
	return hops
}

// rightmostUntrusted is the client a trusted peer vouches for: walking
// X-Forwarded-For from the right, the first hop outside the trusted
// ranges; a hop that does not parse ends the walk at the last good one.
func rightmostUntrusted(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !inPrefixes(client, trusted) {
				return client
			}
		}
	}
	return client
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwarded parses Forwarded (RFC 7239, section 4): comma-separated
// elements of ";"-separated token=value pairs, the value a token or a
// quoted string. Anything else fails the test.
func parseForwarded(t *testing.T, values []string) []map[string]string {
	t.Helper()
	var elems []map[string]string
	for _, v := range values {
		r := bufio.NewReader(strings.NewReader(v))
		elem := map[string]string{}
		for {
			name := readToken(r)
			if name == "" || !expectByte(r, '=') {
				t.Fatalf("Forwarded %q: want token=value", v)
			}
			value := readToken(r)
			if value == "" {
				if value = readQuoted(r); value == "" {
					t.Fatalf("Forwarded %q: bad value of %s", v, name)
				}
			}
			elem[strings.ToLower(name)] = value
			skipOWS(r)
			c, err := r.ReadByte()
			switch {
			case err != nil:
				elems = append(elems, elem)
				return elems
			case c == ',':
				elems = append(elems, elem)
				elem = map[string]string{}
				skipOWS(r)
			case c != ';':
				t.Fatalf("Forwarded %q: unexpected %q", v, c)
			}
		}
	}
	return elems
}

func readToken(r *bufio.Reader) string {
	var sb strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return sb.String()
		}
		if !httpguts.IsTokenRune(rune(c)) {
			_ = r.UnreadByte()
			return sb.String()
		}
		sb.WriteByte(c)
	}
}

func readQuoted(r *bufio.Reader) string {
	if !expectByte(r, '"') {
		return ""
	}
	var sb strings.Builder
	for {
		c, err := r.ReadByte()
		switch {
		case err != nil:
			return ""
		case c == '"':
			return sb.String()
		case c == '\\':
			if c, err = r.ReadByte(); err != nil {
				return ""
			}
		}
		sb.WriteByte(c)
	}
}

func expectByte(r *bufio.Reader, want byte) bool {
	c, err := r.ReadByte()
	if err == nil && c != want {
		_ = r.UnreadByte()
	}
	return err == nil && c == want
}

func skipOWS(r *bufio.Reader) {
	for {
		c, err := r.ReadByte()
		if err != nil {
			return
		}
		if c != ' ' && c != '\t' {
			_ = r.UnreadByte()
			return
		}
	}
}
