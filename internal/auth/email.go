package auth

import (
	"net/mail"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/bamhq/bam/internal/errs"
)

// normalizeEmail is the form emails are stored and looked up in: NFKC,
// trimmed, lower-case. (Lower-casing the local part is not RFC 5321, but it
// is what every user expects of a sign-in form.)
func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
}

// checkEmail normalises and validates an address typed by a user.
func checkEmail(s string) (string, error) {
	e := normalizeEmail(s)
	bad := func(msg string) error {
		return errs.E(errs.Invalid, "auth.invalid_email", "%s", msg).WithField("email", "invalid", msg)
	}
	if e == "" {
		return "", bad("an email address is required")
	}
	if len(e) > 254 {
		return "", bad("at most 254 characters")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", bad("not an email address")
	}
	at := strings.LastIndexByte(e, '@')
	if at < 1 || !strings.Contains(e[at+1:], ".") || strings.ContainsAny(e, " \t\r\n") {
		return "", bad("not an email address")
	}
	return e, nil
}
