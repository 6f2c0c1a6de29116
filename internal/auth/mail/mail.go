// Package mail sends the auth service's mails: address verification,
// password reset, magic links and one-time codes, change notices.
//
// One URL picks where mails go (Open):
//
//	smtp://user:pass@smtp.example.com:587   SMTP, STARTTLS when the server offers it
//	smtps://user:pass@smtp.example.com:465  SMTP over implicit TLS
//	file:///var/lib/bam/mail                each mail an .eml file, plus a log line
//	log:                                    only the log line
//
// The file sender is the embedded default (DefaultURL): on a laptop, `bam
// serve` needs no mail server, and the log line carries the first link of each
// mail, so the verification link is one click away in the terminal.
//
// Render builds the auth mails from short templates.
package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"path/filepath"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to one recipient. Text is required (every mail has a
// readable plain-text part); HTML, when set, is its alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages. Implementations are safe for concurrent use.
type Sender interface {
	// Send delivers m or returns why it could not. An error never
	// contains the credentials of the sender's URL.
	Send(ctx context.Context, m Message) error
}

// forms is quoted in every error about a malformed URL.
const forms = `want smtp://[user:pass@]host[:587][?tls=starttls|required|none], smtps://[user:pass@]host[:465], file:///path/to/dir or log:`

// Open returns the Sender for url (see the package doc for the forms), with
// from as the From address of every mail ("App <no-reply@example.com>").
// Log lines go to logger (slog.Default() when nil). Open checks the
// configuration only; it does not connect.
func Open(rawURL, from string, logger *slog.Logger) (Sender, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if strings.TrimSpace(from) == "" {
		return nil, errors.New("mail: the from address is empty: want e.g. \"App <no-reply@example.com>\"")
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", from, err)
	}
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("mail: URL has no scheme: %s", forms)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("mail: malformed %s URL: %v: %s", strings.ToLower(scheme), err, forms)
	}
	switch strings.ToLower(u.Scheme) {
	case "smtp", "smtps":
		return openSMTP(u, from, logger)
	case "file":
		return openFile(u, from, logger)
	case "log":
		return &logSender{from: from, logger: logger}, nil
	default:
		return nil, fmt.Errorf("mail: unsupported URL scheme %q: %s", scheme, forms)
	}
}

// DefaultURL is the embedded default: .eml files under dataDir/mail.
func DefaultURL(dataDir string) string {
	dir, err := filepath.Abs(filepath.Join(dataDir, "mail"))
	if err != nil {
		dir = filepath.Join(dataDir, "mail")
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// Redact returns rawURL with its password replaced by "xxxxx", for logs and
// `bam config print`. A URL that does not parse is replaced whole.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(malformed mail URL)"
	}
	return u.Redacted()
}

// check rejects messages that cannot be sent as they are.
func (m Message) check() error {
	switch {
	case strings.TrimSpace(m.To) == "":
		return errors.New("mail: message has no recipient")
	case strings.ContainsAny(m.Subject, "\r\n"):
		return errors.New("mail: subject contains a line break")
	case m.Text == "":
		return errors.New("mail: message has no text part")
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("mail: recipient %q: %w", m.To, err)
	}
	return nil
}

// compose builds the MIME message: text/plain, with HTML as the
// alternative when there is one.
func compose(from string, m Message, enc gomail.Encoding) (*gomail.Msg, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithEncoding(enc), gomail.WithNoDefaultUserAgent())
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(rand.Text() + "@" + domainOf(from))
	// RFC 3834: tells auto-responders (vacation notices) not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	text, html := m.Text, m.HTML
	if enc == gomail.NoEncoding {
		// go-mail writes 8-bit parts as they are; RFC 5322 wants CRLF.
		text, html = crlf(text), crlf(html)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	if html != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, html)
	}
	return msg, nil
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func domainOf(addr string) string {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return "localhost"
	}
	_, domain, ok := strings.Cut(a.Address, "@")
	if !ok || domain == "" {
		return "localhost"
	}
	return domain
}
