package config

import (
	"net/url"
	"strings"
)

// Masked is what a secret looks like when the configuration is shown.
const Masked = "*****"

// secretParams are URL query parameters that carry credentials.
var secretParams = []string{"password", "token", "secret", "sslkey"}

// mask hides a secret value: entirely for secret:"true", and only the
// credentials of a URL for secret:"url", so the host stays visible.
func mask(kind, s string) string {
	if s == "" || kind == "" {
		return s
	}
	if kind != "url" {
		return Masked
	}
	u, err := url.Parse(s)
	if err != nil {
		return Masked
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	q := u.Query()
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, Masked)
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), "%2A", "*")
}

// MaskURL hides a URL's credentials, for logs and reports.
func MaskURL(s string) string { return mask("url", s) }
