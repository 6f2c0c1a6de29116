package mail

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultTimeout bounds connecting and each SMTP command; override it with
// ?timeout=.
const DefaultTimeout = 15 * time.Second

// smtpParams documents the query parameters of smtp:// and smtps:// URLs.
const smtpParams = `tls=starttls|required|none, insecure_skip_verify=1, timeout=15s, auth=auto|plain|login|cram-md5|scram-sha-1|scram-sha-256, helo=NAME`

// smtpSender sends through an SMTP server with go-mail. A fresh go-mail
// Client (and connection) per message keeps Send safe for concurrent use and
// free of stale connections; auth mails are few.
type smtpSender struct {
	host   string
	addr   string // host:port, for errors and logs
	from   string
	opts   []gomail.Option
	secret []string // strings that must never appear in an error
	logger *slog.Logger
}

// openSMTP checks an smtp:// or smtps:// URL and returns its sender.
func openSMTP(u *url.URL, from string, logger *slog.Logger) (*smtpSender, error) {
	implicit := strings.EqualFold(u.Scheme, "smtps")
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mail: %s: "+format, append([]any{u.Redacted()}, args...)...)
	}
	host := u.Hostname()
	if host == "" {
		return nil, bad("no host: %s", forms)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, bad("unexpected path %q: an SMTP URL names a server only", u.Path)
	}
	port := 587
	if implicit {
		port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("port %q: want 1-65535", p)
		}
		port = n
	}

	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(DefaultTimeout)}
	if implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	authMech := ""

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("query: %v", err)
	}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		v := q.Get(key)
		switch key {
		case "tls":
			policy, err := tlsPolicy(v, implicit)
			if err != nil {
				return nil, bad("%v", err)
			}
			if !implicit {
				opts = append(opts, gomail.WithTLSPolicy(policy))
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, bad("insecure_skip_verify=%q: want 1 or 0", v)
			}
			tlsConf.InsecureSkipVerify = b
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, bad("timeout=%q: want a positive duration such as 10s", v)
			}
			opts = append(opts, gomail.WithTimeout(d))
		case "auth":
			authMech = strings.ToLower(v)
		case "helo":
			opts = append(opts, gomail.WithHELO(v))
		default:
			return nil, bad("unknown parameter %q: want %s", key, smtpParams)
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConf))

	auth, err := authOption(authMech, user)
	if err != nil {
		return nil, bad("%v", err)
	}
	if auth != nil {
		opts = append(opts, auth, gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	s := &smtpSender{
		host:   host,
		addr:   fmt.Sprintf("%s:%d", host, port),
		from:   from,
		opts:   opts,
		logger: logger,
	}
	if pass != "" {
		// The password as given, and as AUTH PLAIN would put it on the
		// wire, should a server or library echo either back.
		s.secret = append(s.secret, pass, url.QueryEscape(pass),
			base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
	}
	return s, nil
}

func tlsPolicy(v string, implicit bool) (gomail.TLSPolicy, error) {
	if implicit {
		if v == "" || v == "implicit" {
			return 0, nil
		}
		return 0, fmt.Errorf("tls=%q: smtps:// always uses implicit TLS; for STARTTLS or none use smtp://", v)
	}
	switch strings.ToLower(v) {
	case "", "starttls", "opportunistic":
		return gomail.TLSOpportunistic, nil
	case "required", "mandatory":
		return gomail.TLSMandatory, nil
	case "none", "off":
		return gomail.NoTLS, nil
	}
	return 0, fmt.Errorf("tls=%q: want starttls (when offered), required or none", v)
}

// authOption picks the SMTP AUTH mechanism: none without a user, else the
// one named, else the strongest the server offers. PLAIN and LOGIN are only
// used over TLS or to localhost: go-mail refuses to send a password in clear
// to anyone else.
func authOption(mech, user string) (gomail.Option, error) {
	if user == "" {
		if mech != "" {
			return nil, fmt.Errorf("auth=%s but the URL has no user", mech)
		}
		return nil, nil
	}
	switch mech {
	case "", "auto":
		return gomail.WithOpportunisticSMTPAuth(
			gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
			gomail.SMTPAuthPlain, gomail.SMTPAuthLogin), nil
	case "plain":
		return gomail.WithSMTPAuth(gomail.SMTPAuthPlain), nil
	case "login":
		return gomail.WithSMTPAuth(gomail.SMTPAuthLogin), nil
	case "cram-md5":
		return gomail.WithSMTPAuth(gomail.SMTPAuthCramMD5), nil
	case "scram-sha-1":
		return gomail.WithSMTPAuth(gomail.SMTPAuthSCRAMSHA1), nil
	case "scram-sha-256":
		return gomail.WithSMTPAuth(gomail.SMTPAuthSCRAMSHA256), nil
	}
	return nil, fmt.Errorf("auth=%q: want auto, plain, login, cram-md5, scram-sha-1 or scram-sha-256", mech)
}

// Send delivers m over a new SMTP connection.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	msg, err := compose(s.from, m, gomail.EncodingQP)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return s.redact(fmt.Errorf("mail: smtp %s: %w", s.addr, err))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return s.redact(fmt.Errorf("mail: send to %s via %s: %w", m.To, s.addr, err))
	}
	s.logger.DebugContext(ctx, "mail sent", "to", m.To, "subject", m.Subject, "server", s.addr)
	return nil
}

// redact removes the credentials from err's text; errors.Is and errors.As
// still see the cause.
func (s *smtpSender) redact(err error) error {
	msg := err.Error()
	for _, sec := range s.secret {
		if sec != "" {
			msg = strings.ReplaceAll(msg, sec, "xxxxx")
		}
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
