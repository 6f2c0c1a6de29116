package config

import (
	"net/url"
	"strings"
)

// Masked is what a secret looks like when the configuration is shown.
const Masked = "*****"

// mask hides a secret value: entirely for secret:"true", and only the
// credentials of a URL for secret:"url", so the host stays visible. A
// URL's credentials are its user part — a password, or a user alone
// (NATS token auth: nats://TOKEN@host) — and the query values whose names
// say they may be one (secretParam).
// A comma-separated list (NATS servers) is masked URL by URL, and what
// does not parse is masked whole.
func mask(kind, s string) string {
	if s == "" || kind == "" {
		return s
	}
	if kind != "url" {
		return Masked
	}
	if strings.Contains(s, ",") {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			parts[i] = mask(kind, p)
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" && u.Scheme != "sqlite" {
		return Masked
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
	} else if u.User != nil {
		u.User = url.User(Masked)
	}
	q := u.Query()
	for k := range q {
		if secretParam(k) {
			q.Set(k, Masked)
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), "%2A", "*")
}

// secretParam reports whether a URL query parameter may carry a
// credential (password, sslpassword, sslkey, token, secret, auth…): which
// ones do depends on the driver, so any whose name says so.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "token", "key", "auth", "cred"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// MaskURL hides a URL's credentials, for logs and reports.
func MaskURL(s string) string { return mask("url", s) }
