package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
)

// Kind names one of the auth mails Render builds.
type Kind string

// The auth mails.
const (
	// VerifyEmail asks a new user to confirm their address. Needs Link.
	VerifyEmail Kind = "verify_email"
	// ResetPassword carries a password reset link. Needs Link.
	ResetPassword Kind = "reset_password"
	// MagicLink signs a user in: a link, a one-time code, or both. Needs
	// Link or Code.
	MagicLink Kind = "magic_link"
	// EmailChanged tells the old address that the account's address
	// changed. Needs NewEmail; Link, if set, is where to recover the
	// account.
	EmailChanged Kind = "email_changed"
)

// Data fills a template.
type Data struct {
	AppName  string        // the product the user signed up for ("bam" when empty)
	To       string        // the recipient
	Link     string        // the absolute http(s) URL to act on
	Code     string        // a one-time code, for MagicLink
	NewEmail string        // the new address, for EmailChanged
	Expires  time.Duration // how long Link and Code stay valid; 0 leaves it unsaid
}

// template is one kind's subject, text and HTML.
type template struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	check   func(Data) error
}

var funcs = map[string]any{"duration": humanDuration}

// templates holds every kind, parsed at start so a broken template fails
// every test, not one mail.
var templates = func() map[Kind]template {
	ts := make(map[Kind]template, len(sources))
	textBase := texttemplate.Must(texttemplate.New("text").Funcs(funcs).Parse(textLayout))
	htmlBase := htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(htmlLayout))
	for kind, src := range sources {
		ts[kind] = template{
			subject: texttemplate.Must(texttemplate.New("subject").Parse(src.subject)),
			text:    texttemplate.Must(texttemplate.Must(textBase.Clone()).Parse(src.text)),
			html:    htmltemplate.Must(htmltemplate.Must(htmlBase.Clone()).Parse(src.html)),
			check:   src.check,
		}
	}
	return ts
}()

// Render builds the mail of kind for d.To from d.
func Render(kind Kind, d Data) (Message, error) {
	t, ok := templates[kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown template %q", kind)
	}
	if strings.TrimSpace(d.To) == "" {
		return Message{}, fmt.Errorf("mail: %s: no recipient", kind)
	}
	if d.Link != "" {
		if u, err := url.Parse(d.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Message{}, fmt.Errorf("mail: %s: link %q: want an absolute http(s) URL", kind, d.Link)
		}
	}
	if err := t.check(d); err != nil {
		return Message{}, fmt.Errorf("mail: %s: %w", kind, err)
	}
	if d.AppName == "" {
		d.AppName = "bam"
	}
	var subject, text, html bytes.Buffer
	if err := t.subject.Execute(&subject, d); err != nil {
		return Message{}, fmt.Errorf("mail: %s subject: %w", kind, err)
	}
	if err := t.text.Execute(&text, d); err != nil {
		return Message{}, fmt.Errorf("mail: %s text: %w", kind, err)
	}
	if err := t.html.Execute(&html, d); err != nil {
		return Message{}, fmt.Errorf("mail: %s html: %w", kind, err)
	}
	return Message{
		To: d.To,
		// An app name with a line break must not inject headers.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// humanDuration says d the way a mail would: "1 hour", "15 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return d.Round(time.Second).String()
}

func need(field, value string) error {
	if value == "" {
		return fmt.Errorf("%s is required", field)
	}
	return nil
}
