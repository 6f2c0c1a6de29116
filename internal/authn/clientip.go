package authn

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/bamhq/bam/internal/httpx"
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

// NameKeyClient names, for a request that carries an API key (as a bearer
// token, whatever the scheme's case, or in X-API-Key), its client
// (WithClientIP): the address httpx.ClientIP derives with the trusted
// proxies. Put it before Middleware in every service that checks keys with
// the auth service, so that refused keys count against the client that
// sent them; without it they count against the service itself, or, where
// auth trusts it, against nobody. Requests without a key pay nothing.
func NameKeyClient(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cred, err := Credential(r.Header.Get("Authorization"), r.Header.Get("X-API-Key")); err == nil && IsAPIKey(cred) {
			r = r.WithContext(WithClientIP(r.Context(), httpx.ClientIP(r, trusted)))
		}
		next.ServeHTTP(w, r)
	})
}
