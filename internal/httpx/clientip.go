package httpx

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address a request came from: the TCP peer, or, when the
// peer is a trusted proxy, the right-most X-Forwarded-For hop that is not
// one — the first address no trusted proxy can vouch for. Hops left of it
// could be forged by the client. A hop that is not an address ends the
// chain: the last address before it is the answer. An unparseable peer
// (never one net/http sets) gives the unspecified address "::".
//
// The in-process transport presents requests from 127.0.0.1:0, so a
// service behind the gateway in one process sees it as a loopback peer.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return ClientIPOf(peer.Addr(), r.Header.Values("X-Forwarded-For"), trusted)
}

// ClientIPOf is ClientIP for a request whose TCP peer is peer and whose
// X-Forwarded-For header lines are hops.
func ClientIPOf(peer netip.Addr, hops []string, trusted []netip.Prefix) netip.Addr {
	ip := peer.Unmap()
	if !isTrusted(ip, trusted) {
		return ip
	}
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip // garbage: stop believing the chain here
			}
			ip = hop.Unmap()
			if !isTrusted(ip, trusted) {
				return ip
			}
		}
	}
	return ip
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses a trusted-proxy list: CIDRs ("10.0.0.0/8") or single
// addresses (a /32 or /128), masked.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
