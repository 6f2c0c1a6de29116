package authn

import (
	"context"
	"net/netip"
)

type clientIPKey struct{}

// WithClientIP returns ctx naming ip as the client a verification is made
// for. A caller that checks credentials on behalf of others — the gateway's
// edge auth, which knows its client's address — sets it, and
// APIKeyVerifier sends it to the auth service as X-Forwarded-For, so that
// refused keys count against that client rather than against the caller
// (which the auth service must trust: auth.trusted_proxies).
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIPFrom returns the client WithClientIP put in ctx.
func ClientIPFrom(ctx context.Context) (netip.Addr, bool) {
	ip, ok := ctx.Value(clientIPKey{}).(netip.Addr)
	return ip, ok && ip.IsValid()
}
