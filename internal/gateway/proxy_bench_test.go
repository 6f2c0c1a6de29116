package gateway_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/upstream"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/ratelimit"
)

// BenchmarkProxy measures one small JSON call through the gateway's hot
// path to a loopback upstream, against a bare httputil.ReverseProxy over
// the same tuned transport: allocs/op above "bare" are the gateway's own.
//
//	go test ./internal/gateway -run '^$' -bench Proxy -benchmem
func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	gw := func(b *testing.B, yaml string) *gateway.Gateway {
		g, tok := benchGateway(b, yaml, quiet())
		benchToken = tok
		return g
	}
	noAuth, jwtLimited := benchConfigs(up.URL)

	target, _ := url.Parse(up.URL)
	for _, tc := range []struct {
		name  string
		h     func(b *testing.B) http.Handler
		token bool
	}{
		{"bare-reverseproxy", func(*testing.B) http.Handler {
			return &httputil.ReverseProxy{
				Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
				Transport: upstream.NewTransport(), BufferPool: benchBuffers{},
			}
		}, false},
		{"gateway-noauth", func(b *testing.B) http.Handler { return gw(b, noAuth) }, false},
		{"stack-gateway-noauth", func(b *testing.B) http.Handler { return httpx.Stack("gateway", warnOnly(), gw(b, noAuth)) }, false},
		{"stack-gateway-jwt-ratelimit", func(b *testing.B) http.Handler { return httpx.Stack("gateway", warnOnly(), gw(b, jwtLimited)) }, true},
		// Last: once set, the SDK provider stays behind the global one.
		{"stack-gateway-noauth-sampled", func(b *testing.B) http.Handler {
			sampleAll(b)
			return httpx.Stack("gateway", warnOnly(), gw(b, noAuth))
		}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := tc.h(b)
			tok := benchToken
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "http://api.test/v1/things/42", nil)
					req.RemoteAddr = "127.0.0.1:40000"
					if tc.token {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					clear(w.h)
					w.code = 0
					h.ServeHTTP(w, req)
					if w.code != http.StatusOK {
						b.Errorf("status %d", w.code)
						return
					}
				}
			})
		})
	}
}

// warnOnly is the logger of scripts/bench-gateway's `--log-level warn`:
// no access log line per request, as nginx's `access_log off`.
func warnOnly() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// sampleAll installs, for one benchmark, what bam runs with by default:
// the SDK's tracer provider sampling every trace (otel.sample_ratio: 1),
// with no exporter, and the W3C propagator.
func sampleAll(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	b.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
}

// benchToken is the access token of the last gateway gw built.
var benchToken string

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// that the benchmark counts the proxy's allocations, not a recorder's.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { w.WriteHeader(200); return len(p), nil }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Flush() {}

type benchBuffers struct{}

var benchBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (benchBuffers) Get() []byte  { return *benchBufPool.Get().(*[]byte) }
func (benchBuffers) Put(b []byte) { benchBufPool.Put(&b) }

// BenchmarkNative is BenchmarkProxy's call served by the fast lane's
// native path (ServeNative on a parsed request, as the lane hands it
// over): allocs/op are all the gateway's, fasthttp itself allocating
// nothing per request.
//
//	go test ./internal/gateway -run '^$' -bench Native -benchmem
func BenchmarkNative(b *testing.B) {
	up := benchUpstream(b)
	noAuth, jwtLimited := benchConfigs(up.URL)
	for _, tc := range []struct {
		name, yaml string
		token      bool
	}{
		{"noauth", noAuth, false},
		{"jwt-ratelimit", jwtLimited, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g, tok := benchGateway(b, tc.yaml, warnOnly())
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				req.Header.SetRequestURI("/v1/things/42")
				req.Header.SetHost("api.test")
				req.Header.Set("X-Request-Id", "bench-1")
				if tc.token {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				var ctx fasthttp.RequestCtx
				ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
				for pb.Next() {
					ctx.Response.Reset()
					head := fastlane.ReadHead(&ctx.Request.Header) // as the lane does
					served := g.ServeNative(&ctx, head)
					head.Release()
					if !served || ctx.Response.StatusCode() != http.StatusOK {
						b.Errorf("not served natively: %d", ctx.Response.StatusCode())
						return
					}
				}
			})
		})
	}
}

// benchUpstream is a loopback upstream answering 200 bytes of JSON, as
// scripts/bench-gateway's.
func benchUpstream(b *testing.B) *httptest.Server {
	body := `{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","name":"widget","qty":3,"tags":["a","b","c"],"price":{"amount":1999,"currency":"EUR"},"created":"2026-01-02T03:04:05Z","note":"two hundred bytes of json"}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(up.Close)
	return up
}

// benchConfigs are the benchmarks' two configurations of one route to
// upstream: no auth and no limit; a required token and a per-user limit
// that never binds.
func benchConfigs(upstream string) (noAuth, jwtLimited string) {
	return "gateway:\n  rate_limit: {rps: 0}\n  routes:\n    - {path: /v1/things/, upstream: " + upstream + ", auth: none}\n",
		"gateway:\n  rate_limit: {per: user, rps: 1000000000, burst: 1000000000}\n  routes:\n    - {path: /v1/things/, upstream: " + upstream + ", auth: required}\n"
}

// benchGateway builds a gateway from yaml logging to log, with a fake auth
// and a local limiter, and returns it with an access token that auth signed.
func benchGateway(b *testing.B, yaml string, log *slog.Logger) (*gateway.Gateway, string) {
	c, err := loadConfig(b, yaml)
	if err != nil {
		b.Fatal(err)
	}
	a := newFakeAuth(b)
	bld := &gateway.Builder{Log: log}
	b.Cleanup(func() { _ = bld.Close() })
	g, err := bld.New(c, gateway.Options{Log: log, Auth: a.edge(b), Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		b.Fatal(err)
	}
	return g, a.token("u1", nil)
}
