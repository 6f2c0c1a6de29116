package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// fileSender writes each message as an .eml file (RFC 5322, 8-bit text so
// it reads as is) into dir, and logs where, with the first link.
type fileSender struct {
	dir    string
	from   string
	logger *slog.Logger
}

// openFile checks a file: URL — file:///abs/dir, or file:rel/dir relative to
// the working directory — and creates the directory.
func openFile(u *url.URL, from string, logger *slog.Logger) (*fileSender, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("mail: file URL %q has host %q: want file:///absolute/dir or file:relative/dir", u.String(), u.Host)
	}
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque
	}
	if dir == "" {
		return nil, fmt.Errorf("mail: file URL %q has no directory: want file:///absolute/dir or file:relative/dir", u.String())
	}
	if u.RawQuery != "" {
		return nil, fmt.Errorf("mail: file URL %q: parameters are not supported", u.String())
	}
	dir = filepath.FromSlash(dir)
	// Mails carry sign-in links: readable by the owner only.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: create mail directory: %w", err)
	}
	return &fileSender{dir: dir, from: from, logger: logger}, nil
}

// Send writes m to a new file in the directory. The file appears whole or
// not at all (written aside, then renamed), so a watcher never reads half a
// mail.
func (s *fileSender) Send(ctx context.Context, m Message) error {
	msg, err := compose(s.from, m, gomail.NoEncoding)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	tmp := f.Name()
	_, werr := msg.WriteTo(f)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mail: write %s: %w", tmp, err)
	}
	path := filepath.Join(s.dir, fileName(time.Now(), m.To, filepath.Base(tmp)))
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mail: %w", err)
	}
	s.logger.InfoContext(ctx, "mail written", "to", m.To, "subject", m.Subject, "path", path, "link", FirstLink(m.Text))
	return nil
}

// unsafeName matches what may not appear in a file name built from an
// address.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._+-]+`)

// fileName is "20260102T030405.000Z-alice_at_example.com-<unique>.eml":
// sorted by time, recognizable by recipient, unique by the temp file's
// random part.
func fileName(t time.Time, to, tmp string) string {
	rcpt := unsafeName.ReplaceAllString(strings.ReplaceAll(to, "@", "_at_"), "_")
	if len(rcpt) > 64 {
		rcpt = rcpt[:64]
	}
	unique := strings.TrimSuffix(strings.TrimPrefix(tmp, ".tmp-"), ".eml")
	return t.UTC().Format("20060102T150405.000Z") + "-" + rcpt + "-" + unique + ".eml"
}

// logSender only logs: for tests and development without a mail directory.
// The line includes the text, which is what a developer needs to act on a
// one-time code; never use it where logs are shared.
type logSender struct {
	from   string
	logger *slog.Logger
}

func (s *logSender) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "mail", "to", m.To, "subject", m.Subject, "link", FirstLink(m.Text), "text", m.Text)
	return nil
}

// linkPattern finds http(s) URLs in plain text.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// FirstLink returns the first http or https URL in text, without trailing
// punctuation, or "".
func FirstLink(text string) string {
	return strings.TrimRight(linkPattern.FindString(text), ".,;:!?)]}'")
}
