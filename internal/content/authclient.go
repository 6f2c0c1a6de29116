package content

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/transport"
)

// verifiers builds the service's token and API key verifiers the way the
// gateway builds its own (gateway.NewEdgeAuth: the auth service's JWKS, its
// key check endpoint, a deny-list of revoked sessions), over authTransport.
func verifiers(p *platform.Platform) (*gateway.EdgeAuth, error) {
	rt, err := newAuthTransport(p)
	if err != nil {
		return nil, err
	}
	return gateway.NewEdgeAuth(gateway.EdgeAuthOptions{Issuer: p.Config.PublicURL,
		Audience: p.Config.Auth.Audience, Auth: rt, TokenLifetime: p.Config.Auth.AccessTokenTTL})
}

// authTransport reaches the auth service: in this process when it runs
// here (no socket), else its replicas from auth.url, else the gateway at
// public_url, which routes /.well-known/ and /v1/auth/ to it. The choice
// is made at the first request, when every module of the process has
// been built.
type authTransport struct {
	p        *platform.Platform
	replicas http.RoundTripper // nil without static auth.url replicas
	public   *url.URL
	direct   http.RoundTripper

	once sync.Once
	rt   http.RoundTripper
}

func newAuthTransport(p *platform.Platform) (*authTransport, error) {
	t := &authTransport{p: p, direct: transport.NewHTTPTransport()}
	var static []string
	for _, u := range strings.Split(p.Config.Auth.URL, ",") {
		if u = strings.TrimSuffix(strings.TrimSpace(u), "/"); strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			static = append(static, u)
		}
	}
	if len(static) > 0 {
		r, err := transport.NewReplicas(static)
		if err != nil {
			return nil, err
		}
		t.replicas = r
	}
	pub, err := url.Parse(p.Config.PublicURL)
	if err != nil {
		return nil, err
	}
	t.public = pub
	return t, nil
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(func() {
		switch h, ok := t.p.Handler("auth"); {
		case ok:
			t.rt = transport.InProcess(h)
		case t.replicas != nil:
			t.rt = t.replicas
		default:
			t.rt = viaGateway{base: t.public, rt: t.direct}
		}
	})
	return t.rt.RoundTrip(req)
}

// viaGateway sends requests to the gateway's public URL.
type viaGateway struct {
	base *url.URL
	rt   http.RoundTripper
}

func (g viaGateway) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = g.base.Scheme, g.base.Host, ""
	return g.rt.RoundTrip(out)
}
