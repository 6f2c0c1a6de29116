package config

import (
	"errors"
	"fmt"
	"net"
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
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", c.ShutdownTimeout.String(), "a positive duration such as 20s")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", c.Log.Level, "one of debug, info, warn, error")
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", c.Log.Format, "text or json")
	}
	for key, addr := range map[string]string{"http.addr": c.HTTP.Addr, "ops.addr": c.Ops.Addr, "auth.addr": c.Auth.Addr} {
		if !isHostPort(addr) {
			bad(key, addr, `host:port, e.g. ":8080" or "127.0.0.1:8080"`)
		}
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
	for _, u := range splitList(c.Auth.URL) {
		checkURL("auth.url", u, "http", "https")
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
