package auth

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/bamhq/bam/internal/httpx"
)

// client is where a request came from, for sessions, audit and throttling.
type client struct {
	IP        string
	UserAgent string
}

type clientKey struct{}

func withClient(ctx context.Context, c client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// clientOf reads the caller's address: the TCP peer, or, when the peer is
// a trusted proxy (Options.TrustedProxies: the gateway), the right-most
// X-Forwarded-For hop no trusted proxy vouches for. An address from any
// other peer's X-Forwarded-For could be forged, and would let a client
// pick its own throttling key.
func clientOf(r *http.Request, trusted []netip.Prefix) client {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return client{IP: httpx.ClientIP(r, trusted).String(), UserAgent: ua}
}

// isTrustedProxy reports whether ip (a client's, from clientOf) is one of
// the trusted proxies: a request the gateway made for itself.
func (s *Service) isTrustedProxy(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
