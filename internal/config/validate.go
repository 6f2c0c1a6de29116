package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/v2"
)

// Error is a configuration problem with one key.
type Error struct {
	Key      string
	Value    string
	Expected string
}

func (e *Error) Error() string {
	if strings.HasPrefix(e.Key, "gateway.routes") { // file only: no environment variable
		return fmt.Sprintf("config: %s = %q: expected %s (in the config file)", e.Key, e.Value, e.Expected)
	}
	return fmt.Sprintf("config: %s = %q: expected %s (env %s)", e.Key, e.Value, e.Expected, EnvName(e.Key))
}

// checkScalars parses every scalar leaf from its raw form before decoding,
// so a bad value is reported with its key and the form it should take.
func checkScalars(k *koanf.Koanf) error {
	var errs []error
	for _, f := range Fields() {
		raw := k.Get(f.Key)
		s, ok := raw.(string)
		if !ok {
			continue // typed by the YAML parser or the defaults; the decoder checks those
		}
		if err := parseAs(f.Type, s); err != nil {
			errs = append(errs, &Error{Key: f.Key, Value: s, Expected: f.Expected()})
		}
	}
	return errors.Join(errs...)
}

func parseAs(t reflect.Type, s string) error {
	if t == reflect.TypeOf(time.Duration(0)) {
		_, err := time.ParseDuration(s)
		return err
	}
	var err error
	switch t.Kind() {
	case reflect.Bool:
		_, err = strconv.ParseBool(s)
	case reflect.Int, reflect.Int64:
		_, err = strconv.ParseInt(s, 10, 64)
	case reflect.Float64:
		_, err = strconv.ParseFloat(s, 64)
	}
	return err
}

// Validate checks values that parse but make no sense.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, value, expected string) {
		errs = append(errs, &Error{Key: key, Value: value, Expected: expected})
	}
	if len(c.Services) == 0 {
		bad("services", "", "all, or a comma-separated list of services")
	}
	if c.DataDir == "" {
		bad("data_dir", "", "a directory path")
	}
	if c.ShutdownDelay < 0 {
		bad("shutdown_delay", c.ShutdownDelay.String(), "zero or a positive duration such as 5s")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", c.ShutdownTimeout.String(), "a positive duration such as 20s")
	}
	if n, err := ParseSize(c.MemoryLimit); c.MemoryLimit != "" && c.MemoryLimit != "off" && (err != nil || n < 16<<20) {
		bad("memory_limit", c.MemoryLimit, "empty, off, or a size of at least 16MiB such as 512MiB")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", c.Log.Level, "one of debug, info, warn, error")
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", c.Log.Format, "text or json")
	}
	for key, addr := range map[string]string{"http.addr": c.HTTP.Addr, "ops.addr": c.Ops.Addr, "auth.addr": c.Auth.Addr,
		"content.addr": c.Content.Addr} {
		if !isHostPort(addr) {
			bad(key, addr, `host:port, e.g. ":8080" or "127.0.0.1:8080"`)
		}
	}
	if c.NATS.StreamReplicas < 0 || c.NATS.StreamReplicas > 5 || (c.NATS.StreamReplicas > 1 && c.NATS.URL == "") {
		bad("nats.stream_replicas", strconv.Itoa(c.NATS.StreamReplicas), "0 to 5 (JetStream's limit), and more than 1 only with an external cluster (nats.url)")
	}
	if c.NATS.Listen != "" && !isHostPort(c.NATS.Listen) {
		bad("nats.listen", c.NATS.Listen, `empty, or host:port such as "127.0.0.1:4222"`)
	}
	checkURL := func(key, value string, schemes ...string) {
		if value == "" {
			return
		}
		u, err := url.Parse(value)
		if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
			bad(key, mask("url", value), "empty, or a URL starting with "+strings.Join(schemes, ":// or ")+"://")
		}
	}
	checkURL("database.url", c.Database.URL, "postgres", "postgresql")
	checkURL("nats.url", c.NATS.URL, "nats", "tls")
	checkURL("redis.url", c.Redis.URL, "redis", "rediss")
	checkURL("otel.endpoint", c.OTel.Endpoint, "http", "https")
	checkURL("public_url", c.PublicURL, "http", "https")
	if c.PublicURL == "" {
		bad("public_url", "", "the URL clients reach the gateway at, e.g. https://api.example.com")
	}
	checkURL("auth.mail_url", c.Auth.MailURL, "smtp", "smtps")
	checkURL("auth.oidc.issuer", c.Auth.OIDC.Issuer, "http", "https")
	if c.Auth.OIDC.Name != "" && (c.Auth.OIDC.Issuer == "" || c.Auth.OIDC.ClientID == "") {
		bad("auth.oidc.name", c.Auth.OIDC.Name, "set with auth.oidc.issuer and auth.oidc.client_id")
	}
	for _, u := range splitList(c.Auth.URL) {
		checkURL("auth.url", u, "http", "https", "dns+http", "dns+https")
	}
	for _, u := range splitList(c.Content.URL) {
		checkURL("content.url", u, "http", "https", "dns+http", "dns+https")
	}
	for _, cidr := range c.Auth.TrustedProxies {
		if !isCIDROrAddr(cidr) {
			bad("auth.trusted_proxies", cidr, "CIDRs such as 10.0.0.0/8 or single addresses")
		}
	}
	if c.Auth.Secret != "" && len(c.Auth.Secret) < 32 {
		bad("auth.secret", Masked, "at least 32 characters of random text (e.g. openssl rand -base64 32)")
	}
	for key, d := range map[string]time.Duration{"auth.access_token_ttl": c.Auth.AccessTokenTTL,
		"auth.session_ttl": c.Auth.SessionTTL} {
		if d <= 0 {
			bad(key, d.String(), "a positive duration")
		}
	}
	for key, d := range map[string]time.Duration{"auth.refresh_reuse_grace": c.Auth.RefreshReuseGrace,
		"auth.key_rotation": c.Auth.KeyRotation} {
		if d < 0 {
			bad(key, d.String(), "zero or a positive duration")
		}
	}
	if !slices.Contains([]string{"EdDSA", "ES256"}, c.Auth.SigningAlg) {
		bad("auth.signing_alg", c.Auth.SigningAlg, "EdDSA or ES256")
	}
	validateGateway(c, bad)
	if c.OTel.SampleRatio < 0 || c.OTel.SampleRatio > 1 {
		bad("otel.sample_ratio", strconv.FormatFloat(c.OTel.SampleRatio, 'g', -1, 64), "a number from 0 to 1")
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func isHostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// validateGateway checks the gateway section. A route's errors name it by
// index and path (gateway.routes[2] (/v1/orders/).upstream) so that a long
// list stays navigable.
func validateGateway(c Config, bad func(key, value, expected string)) {
	g := c.Gateway
	checkLimit := func(key string, l RateLimit) {
		if l.Per != "" && !slices.Contains([]string{"ip", "user", "key", "route"}, l.Per) {
			bad(key+".per", l.Per, "one of ip, user, key, route (empty: ip)")
		}
		if l.RPS < 0 || math.IsNaN(l.RPS) || math.IsInf(l.RPS, 0) {
			bad(key+".rps", strconv.FormatFloat(l.RPS, 'g', -1, 64), "zero (off) or a positive number of requests per second")
		}
		if l.Burst < 0 {
			bad(key+".burst", strconv.Itoa(l.Burst), "zero (twice rps) or a positive whole number")
		}
	}
	checkLimit("gateway.rate_limit", g.RateLimit)
	for _, cidr := range g.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, err := netip.ParseAddr(cidr); err != nil {
				bad("gateway.trusted_proxies", cidr, "CIDRs such as 10.0.0.0/8 or single addresses")
			}
		}
	}
	for _, o := range g.CORSOrigins {
		if o == "*" {
			if g.CORSCredentials {
				bad("gateway.cors_credentials", "true", "false when cors_origins is * (browsers refuse credentials with a wildcard)")
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("gateway.cors_origins", o, "origins such as https://app.example.com (scheme and host, no path), or *")
		}
	}
	if g.CORSMaxAge < 0 {
		bad("gateway.cors_max_age", g.CORSMaxAge.String(), "zero or a positive duration")
	}
	validateGatewayTransport(g, bad)
	if g.Discovery != "bus" && g.Discovery != "static" {
		bad("gateway.discovery", g.Discovery, "bus (replicas announce themselves on the bus) or static")
	}
	if g.AnnounceInterval <= 0 {
		bad("gateway.announce_interval", g.AnnounceInterval.String(), "a positive duration such as 5s")
	}
	if g.DNSInterval <= 0 {
		bad("gateway.dns_interval", g.DNSInterval.String(), "a positive duration such as 10s")
	}
	authLocal := slices.Contains(c.Services, "all") || slices.Contains(c.Services, "auth")
	seen := map[string]int{}
	for i, r := range g.Routes {
		key := fmt.Sprintf("gateway.routes[%d] (%s)", i, r.Path)
		if r.Path == "" || !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " ?#") {
			bad(key+".path", r.Path, "a path prefix starting with /, e.g. /v1/orders/")
		}
		if r.Host != "" && !isHost(r.Host) {
			bad(key+".host", r.Host, "empty (any host) or a host name such as api.example.com, without scheme or port")
		}
		for _, m := range r.Methods {
			if !isMethod(m) {
				bad(key+".methods", m, "HTTP methods in upper case, e.g. [GET, POST]")
			}
		}
		id := strings.ToLower(r.Host) + " " + r.Path + " " + strings.Join(r.Methods, ",")
		if j, dup := seen[id]; dup {
			bad(key+".path", r.Path, fmt.Sprintf("a path, host and methods not already used by gateway.routes[%d]", j))
		}
		seen[id] = i
		targets := splitList(r.Upstream)
		if len(targets) == 0 {
			bad(key+".upstream", r.Upstream, "comma-separated replica URLs such as http://127.0.0.1:7000,http://127.0.0.1:7001")
		}
		for _, t := range targets {
			u, err := url.Parse(t)
			if err != nil || !slices.Contains([]string{"http", "https", "dns+http", "dns+https"}, u.Scheme) ||
				u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				bad(key+".upstream", t, "replica URLs with scheme and host only, such as http://127.0.0.1:7000 or dns+http://orders.default.svc.cluster.local:7000")
			}
		}
		switch r.Auth {
		case "", "none", "optional", "required":
		default:
			bad(key+".auth", r.Auth, "none, optional or required")
		}
		if (len(r.Roles) > 0 || len(r.Permissions) > 0) && r.Auth != "required" {
			bad(key+".auth", r.Auth, "required when roles or permissions are set")
		}
		if r.Auth == "required" && !authLocal && c.Auth.URL == "" {
			bad(key+".auth", r.Auth, "none unless the auth service runs in this process or auth.url is set (tokens cannot be checked)")
		}
		for _, list := range [][]string{r.Roles, r.Permissions} {
			if slices.Contains(list, "") {
				bad(key+".roles", "", "non-empty role and permission names")
			}
		}
		checkLimit(key+".rate_limit", r.RateLimit)
		if r.Timeout < 0 {
			bad(key+".timeout", r.Timeout.String(), "zero (10s) or a positive duration such as 5s")
		}
		if r.Retries != nil && (*r.Retries < 0 || *r.Retries > 10) {
			bad(key+".retries", strconv.Itoa(*r.Retries), "a whole number from 0 (none) to 10")
		}
		if r.Sunset != "" {
			if _, err := time.Parse(time.RFC3339, r.Sunset); err != nil {
				bad(key+".sunset", r.Sunset, "an RFC 3339 time such as 2026-12-31T00:00:00Z")
			}
		}
		if _, err := ParseSize(r.MaxBody); err != nil {
			bad(key+".max_body", r.MaxBody, "bytes or a size such as 10MiB (empty or 0: gateway.max_body)")
		}
		checkRouteHealth(key+".health", r.Health, bad)
	}
}

// checkRouteHealth checks a route's active health checks: a path on every
// replica, and how often.
func checkRouteHealth(key string, h RouteHealth, bad func(key, value, expected string)) {
	if h.Path != "" {
		u, err := url.Parse(h.Path)
		if err != nil || !strings.HasPrefix(h.Path, "/") || u.Host != "" || u.Fragment != "" {
			bad(key+".path", h.Path, "a path on every replica such as /readyz")
		}
	}
	switch {
	case h.Interval < 0:
		bad(key+".interval", h.Interval.String(), "zero (5s) or a positive duration such as 2s")
	case h.Interval > 0 && h.Path == "":
		bad(key+".interval", h.Interval.String(), "set only with health.path")
	}
}

// isHost reports whether s is a bare host name or IP address.
func isHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return len(s) <= 253
}

// isMethod reports whether s is an upper-case HTTP method token.
func isMethod(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// isCIDROrAddr reports whether s is a CIDR ("10.0.0.0/8") or a single
// address, as trusted-proxy lists take them.
func isCIDROrAddr(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}
