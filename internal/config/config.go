// Package config is bam's configuration: one struct, its defaults, and the
// layers that override them — defaults < config file (bam.yaml) < BAM_*
// environment variables < command-line flags.
//
// The struct is the single source of truth: environment variable names,
// validation messages, masking of secrets in `bam config print` and the
// table of keys in the README are all derived from its tags:
//
//	koanf:"key"     the key in bam.yaml (nested structs nest keys with ".")
//	help:"…"        one line for the docs table
//	flag:"name"     also settable as --name on the command line
//	secret:"true"   masked whenever the configuration is shown
package config

import "time"

// Config is the effective configuration of one bam process.
type Config struct {
	Services        []string      `koanf:"services" flag:"services" help:"Services to run in this process: all, or a comma-separated list"`
	DataDir         string        `koanf:"data_dir" flag:"data-dir" help:"Directory for embedded data: SQLite files, the NATS store, local files"`
	PublicURL       string        `koanf:"public_url" help:"The URL clients reach the gateway at: token issuer, links in mails"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" help:"How long a stopping process waits for in-flight requests to finish"`
	ShutdownDelay   time.Duration `koanf:"shutdown_delay" help:"How long a stopping process keeps serving, already unready, before draining (set ~5s behind a load balancer)"`
	MemoryLimit     string        `koanf:"memory_limit" help:"Soft limit of the Go runtime's memory, such as 512MiB (GOMEMLIMIT; that variable wins). Empty: 160MiB in the embedded setup (SQLite and the embedded NATS server), none otherwise; off: none"`
	Log             Log           `koanf:"log"`
	HTTP            HTTP          `koanf:"http"`
	Ops             Ops           `koanf:"ops"`
	Database        Database      `koanf:"database"`
	NATS            NATS          `koanf:"nats"`
	Redis           Redis         `koanf:"redis"`
	OTel            OTel          `koanf:"otel"`
	Auth            Auth          `koanf:"auth"`
	Content         Content       `koanf:"content"`
	Gateway         Gateway       `koanf:"gateway"`
}

// Log configures structured logging.
type Log struct {
	Level  string `koanf:"level" flag:"log-level" help:"Minimum log level: debug, info, warn or error"`
	Format string `koanf:"format" flag:"log-format" help:"Log line format: text or json"`
}

// HTTP configures the public listener, and the services' own listeners.
type HTTP struct {
	Addr     string `koanf:"addr" flag:"http-addr" help:"Public API listener (the gateway), host:port"`
	FastLane bool   `koanf:"fast_lane" help:"Serve the own listener of a service running without the gateway (auth.addr, content.addr) with fasthttp, handing its streams (Server-Sent Events), upgrades and large bodies to net/http (see docs/platform.md); changing it needs a restart"`
}

// Ops configures the per-process operations listener.
type Ops struct {
	Addr string `koanf:"addr" flag:"ops-addr" help:"Operations listener for /metrics, /healthz and /readyz, host:port"`
}

// Database selects where services keep their data.
type Database struct {
	URL string `koanf:"url" flag:"database-url" secret:"url" help:"Empty: one SQLite file per service under data_dir. postgres://…: one schema per service on that server"`
}

// NATS selects the event bus.
type NATS struct {
	URL    string `koanf:"url" flag:"nats-url" secret:"url" help:"Empty: an embedded NATS JetStream server (store under data_dir). nats://…: an external cluster"`
	Listen string `koanf:"listen" help:"Embedded server only: expose it on this host:port (empty: in-process connections only)"`
	// StreamReplicas is how many copies of each service's stream an
	// external cluster keeps: 0 leaves an existing stream as it is (and
	// creates new ones with 1).
	StreamReplicas int `koanf:"stream_replicas" help:"External cluster only: copies of each service's event stream (3 survives a node's loss; 0: leave existing streams as they are, create new ones with 1)"`
}

// Redis is the optional shared cache (rate limits across gateway replicas).
type Redis struct {
	URL string `koanf:"url" flag:"redis-url" secret:"url" help:"Empty: no Redis, in-process state only. redis://…: shared state across replicas"`
}

// OTel configures tracing.
type OTel struct {
	Endpoint    string  `koanf:"endpoint" help:"OTLP/HTTP endpoint for traces, e.g. http://127.0.0.1:4318 (empty: traces are not exported)"`
	SampleRatio float64 `koanf:"sample_ratio" help:"Fraction of new traces to sample, 0 to 1 (a sampled parent is always followed); with no otel.endpoint, new traces are not sampled"`
}

// Auth configures the auth service.
type Auth struct {
	Addr                 string        `koanf:"addr" help:"The auth service's own listener, used when it runs without the gateway"`
	URL                  string        `koanf:"url" help:"Where a gateway without auth in-process reaches it: comma-separated replica URLs"`
	Secret               string        `koanf:"secret" secret:"true" help:"Encrypts signing keys and MFA secrets at rest (32+ characters). Empty: generated once into data_dir/auth.secret"`
	Audience             string        `koanf:"audience" help:"The aud claim of access tokens"`
	AccessTokenTTL       time.Duration `koanf:"access_token_ttl" help:"Lifetime of access tokens"`
	SessionTTL           time.Duration `koanf:"session_ttl" help:"A session (and its refresh tokens) ends this long after sign-in"`
	RefreshReuseGrace    time.Duration `koanf:"refresh_reuse_grace" help:"A rotated refresh token used again within this window returns the same new one (tabs refreshing at once)"`
	KeyRotation          time.Duration `koanf:"key_rotation" help:"Rotate the signing key this often (0: only with bam auth rotate-keys)"`
	SigningAlg           string        `koanf:"signing_alg" help:"Access token signature: EdDSA or ES256"`
	RequireVerifiedEmail bool          `koanf:"require_verified_email" help:"Refuse sign-in (password, social) until the email is verified"`
	MailURL              string        `koanf:"mail_url" secret:"url" help:"smtp://user:pass@host:587 or smtps://…; empty: mails written to data_dir/mail and logged"`
	MailFrom             string        `koanf:"mail_from" help:"Sender address of auth mails"`
	BreachedPasswords    string        `koanf:"breached_passwords" help:"Path of a local breached-password list (SHA-1 HASH:COUNT lines); empty: no check"`
	TrustedProxies       []string      `koanf:"trusted_proxies" help:"CIDRs of the peers whose X-Forwarded-For names the client (the gateway): the client IP is the right-most hop outside them, for throttling, sessions and audit. The default, loopback, covers the gateway in one process or on the same host; with auth on its own listener, set the gateway's network (empty: the TCP peer)"`
	OIDC                 OIDC          `koanf:"oidc"`
}

// OIDC configures sign-in with an external OpenID Connect provider
// (Google, Microsoft, Keycloak, another bam, …). Register
// PUBLIC_URL/v1/auth/oidc/NAME/callback as the redirect URI at the provider.
type OIDC struct {
	Name         string   `koanf:"name" help:"Social sign-in provider's name in URLs (/v1/auth/oidc/NAME/start); empty: social sign-in off"`
	Issuer       string   `koanf:"issuer" help:"The provider's issuer URL; discovery at ISSUER/.well-known/openid-configuration"`
	ClientID     string   `koanf:"client_id" help:"bam's client id at the provider"`
	ClientSecret string   `koanf:"client_secret" secret:"true" help:"bam's client secret at the provider"`
	Scopes       []string `koanf:"scopes" help:"Scopes asked of the provider"`
	RedirectURLs []string `koanf:"redirect_urls" help:"Where social sign-in may send users back besides public_url's origin: origins, or URL prefixes"`
}

// Content configures the content service (collections and records).
type Content struct {
	Addr            string `koanf:"addr" help:"The content service's own listener, used when it runs without the gateway"`
	URL             string `koanf:"url" help:"Where a gateway without content in-process reaches it: comma-separated replica URLs"`
	CollectionsFile string `koanf:"collections_file" help:"YAML or JSON file of collection definitions applied at start: missing ones created, changed ones updated, none dropped (empty: none)"`
}

// Gateway configures the public gateway beyond the built-in services'
// routes: routes to users' own services, rate limits, CORS. Every key is
// reloaded live when the config file changes or on SIGHUP.
type Gateway struct {
	Routes          []Route       `koanf:"routes" file:"only" help:"Routes to your own services (config file only): a list of {path, host, methods, upstream, auth, roles, permissions, rate_limit, timeout, retries, strip_prefix, deprecated, sunset, override, max_body, h2c, health}; see docs/gateway.md"`
	RateLimit       RateLimit     `koanf:"rate_limit"`
	TrustedProxies  []string      `koanf:"trusted_proxies" help:"CIDRs of proxies in front of the gateway; the client IP is then the right-most X-Forwarded-For hop outside them (empty: the TCP peer)"`
	CORSOrigins     []string      `koanf:"cors_origins" help:"Origins allowed to call the API from browsers: a list of https://app.example.com, or * (empty: no CORS headers)"`
	CORSCredentials bool          `koanf:"cors_credentials" help:"Let browsers send cookies and Authorization cross-origin (not with cors_origins *)"`
	CORSMaxAge      time.Duration `koanf:"cors_max_age" help:"How long browsers may cache a preflight answer (Access-Control-Max-Age)"`
	TLSCert         string        `koanf:"tls_cert" help:"PEM certificate (chain) file: the public listener serves HTTPS, TLS 1.2+ with HTTP/2, and sends HSTS (empty: plain HTTP). The files are re-read when they change; turning TLS on or off needs a restart"`
	TLSKey          string        `koanf:"tls_key" help:"PEM private key file of tls_cert"`
	UpstreamCA      string        `koanf:"upstream_ca" help:"PEM CA file that https:// upstreams' certificates must chain to (empty: the system roots); read at start"`
	UpstreamCert    string        `koanf:"upstream_cert" help:"PEM client certificate the gateway presents to https:// upstreams (mTLS); read at start"`
	UpstreamKey     string        `koanf:"upstream_key" help:"PEM private key file of upstream_cert"`
	Compress        bool          `koanf:"compress" help:"Gzip responses for clients that accept it when the upstream did not compress (compressible types of 1 KiB or more; never text/event-stream)"`
	MaxBody         string        `koanf:"max_body" help:"Largest request body a route accepts unless it sets its own max_body: bytes or a size such as 10MiB (0: unlimited); larger ones get 413"`
	FastLane        bool          `koanf:"fast_lane" help:"Serve the plain-HTTP listener with fasthttp, proxying requests to HTTP/1.1 upstreams without net/http and handing every other connection to net/http (see docs/gateway.md); changing it needs a restart"`

	// Discovery of split-out services' replicas (see internal/gateway/discovery).
	Discovery        string        `koanf:"discovery" help:"How a gateway finds split-out services' replicas besides their static URLs (auth.url, which may also be dns+http://NAME:PORT): bus (replicas announce themselves on the bus; needs a shared nats.url) or static"`
	AnnounceInterval time.Duration `koanf:"announce_interval" help:"How often a split-out service announces its address on the bus; a gateway forgets a replica silent for three intervals"`
	AdvertiseHost    string        `koanf:"advertise_host" help:"Host or IP other processes reach this process's service listeners at, sent in its announcements (empty: the listener's host; this machine's first non-loopback IP when it listens on all interfaces)"`
	DNSInterval      time.Duration `koanf:"dns_interval" help:"How often dns+http:// upstreams are resolved again"`
}

// RateLimit is a token bucket applied per client IP, user, API key or route.
type RateLimit struct {
	Per   string  `koanf:"per" help:"What the default rate limit counts: ip, user (falls back to ip), key (falls back to user, then ip) or route"`
	RPS   float64 `koanf:"rps" help:"Default rate limit on every route, requests per second (0: off)"`
	Burst int     `koanf:"burst" help:"Default rate limit's burst: requests allowed at once (0: twice rps)"`
}

// Route sends requests matching path (a prefix), host and methods to one of
// users' own services. Only bam.yaml can declare routes.
type Route struct {
	Path        string        `koanf:"path"`
	Host        string        `koanf:"host"`
	Methods     []string      `koanf:"methods"`
	Upstream    string        `koanf:"upstream"`
	Auth        string        `koanf:"auth"`
	Roles       []string      `koanf:"roles"`
	Permissions []string      `koanf:"permissions"`
	RateLimit   RateLimit     `koanf:"rate_limit"`
	Timeout     time.Duration `koanf:"timeout"`
	Retries     *int          `koanf:"retries"`
	StripPrefix bool          `koanf:"strip_prefix"`
	Deprecated  bool          `koanf:"deprecated"`
	Sunset      string        `koanf:"sunset"`
	Override    bool          `koanf:"override"`
	MaxBody     string        `koanf:"max_body"`
	H2C         bool          `koanf:"h2c"` // HTTP/2 without TLS (prior knowledge) to the upstream
	Health      RouteHealth   `koanf:"health"`
}

// RouteHealth turns on active health checks of a route's replicas: each is
// asked for Path every Interval, and one that does not answer 2xx takes no
// requests until it does again. Without it a user route has passive
// ejection only (users' services need not serve a health endpoint).
type RouteHealth struct {
	Path     string        `koanf:"path"`     // e.g. /readyz; empty: no active checks
	Interval time.Duration `koanf:"interval"` // between checks; 0: 5s
}

// Defaults returns the configuration a fresh checkout runs with: every
// service in one process, all data under ./bam_data.
func Defaults() Config {
	return Config{
		Services:        []string{"all"},
		DataDir:         "./bam_data",
		PublicURL:       "http://localhost:8080",
		ShutdownTimeout: 20 * time.Second,
		Log:             Log{Level: "info", Format: "text"},
		HTTP:            HTTP{Addr: ":8080", FastLane: true},
		Ops:             Ops{Addr: ":9090"},
		OTel:            OTel{SampleRatio: 1},
		Auth: Auth{
			Addr:              ":8081",
			Audience:          "bam",
			AccessTokenTTL:    15 * time.Minute,
			SessionTTL:        30 * 24 * time.Hour,
			RefreshReuseGrace: 10 * time.Second,
			KeyRotation:       30 * 24 * time.Hour,
			SigningAlg:        "EdDSA",
			MailFrom:          "bam <no-reply@localhost>",
			TrustedProxies:    []string{"127.0.0.0/8", "::1/128"},
			OIDC:              OIDC{Scopes: []string{"openid", "email", "profile"}},
		},
		Content: Content{Addr: ":8082"},
		Gateway: Gateway{
			RateLimit:  RateLimit{Per: "ip", RPS: 50, Burst: 100},
			CORSMaxAge: 10 * time.Minute,
			Compress:   true,
			MaxBody:    "10MiB",
			FastLane:   true,

			Discovery:        "bus",
			AnnounceInterval: 5 * time.Second,
			DNSInterval:      10 * time.Second,
		},
	}
}
