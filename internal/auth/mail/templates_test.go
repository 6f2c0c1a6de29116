package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/mail"
)

func TestRender(t *testing.T) {
	t.Parallel()
	const link = "https://acme.test/a?token=t0k&x=1"
	tests := []struct {
		kind       mail.Kind
		data       mail.Data
		subject    string
		textHas    []string
		htmlHas    []string
		textHasNot []string
	}{
		{
			kind:    mail.VerifyEmail,
			data:    mail.Data{Link: link, Expires: 24 * time.Hour},
			subject: "Confirm your email address for Acme",
			textHas: []string{link + "\n", "expires in 24 hours", "did not sign up"},
			htmlHas: []string{`href="https://acme.test/a?token=t0k&amp;x=1"`},
		},
		{
			kind:    mail.ResetPassword,
			data:    mail.Data{Link: link, Expires: time.Hour},
			subject: "Reset your Acme password",
			textHas: []string{link + "\n", "expires in 1 hour", "password stays as it is"},
			htmlHas: []string{`href="https://acme.test/a?token=t0k&amp;x=1"`},
		},
		{
			kind:    mail.MagicLink,
			data:    mail.Data{Link: link, Code: "123456", Expires: 15 * time.Minute},
			subject: "Your Acme sign-in code",
			textHas: []string{"123456", link + "\n", "expires in 15 minutes"},
			htmlHas: []string{"123456", `href="https://acme.test/a?token=t0k&amp;x=1"`},
		},
		{
			kind:       mail.MagicLink,
			data:       mail.Data{Link: link},
			subject:    "Your Acme sign-in link",
			textHas:    []string{"Open this link", link},
			textHasNot: []string{"code", "expires"},
		},
		{
			kind:    mail.EmailChanged,
			data:    mail.Data{NewEmail: "new@example.com", Link: link},
			subject: "Your Acme email address was changed",
			textHas: []string{"changed to new@example.com", link},
			htmlHas: []string{"new@example.com"},
		},
	}
	for _, tt := range tests {
		tt.data.AppName, tt.data.To = "Acme", "alice@example.com"
		m, err := mail.Render(tt.kind, tt.data)
		if err != nil {
			t.Errorf("%s: %v", tt.kind, err)
			continue
		}
		if m.To != "alice@example.com" || m.Subject != tt.subject {
			t.Errorf("%s: to %q, subject %q; want %q", tt.kind, m.To, m.Subject, tt.subject)
		}
		for _, s := range tt.textHas {
			if !strings.Contains(m.Text, s) {
				t.Errorf("%s: text lacks %q:\n%s", tt.kind, s, m.Text)
			}
		}
		for _, s := range tt.textHasNot {
			if strings.Contains(m.Text, s) {
				t.Errorf("%s: text has %q:\n%s", tt.kind, s, m.Text)
			}
		}
		for _, s := range tt.htmlHas {
			if !strings.Contains(m.HTML, s) {
				t.Errorf("%s: html lacks %q:\n%s", tt.kind, s, m.HTML)
			}
		}
		if tt.data.Link != "" && mail.FirstLink(m.Text) != tt.data.Link {
			t.Errorf("%s: FirstLink = %q", tt.kind, mail.FirstLink(m.Text))
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	to := "alice@example.com"
	tests := []struct {
		kind mail.Kind
		data mail.Data
		want string
	}{
		{"welcome", mail.Data{To: to}, `unknown template "welcome"`},
		{mail.VerifyEmail, mail.Data{Link: "https://a.test/"}, "no recipient"},
		{mail.VerifyEmail, mail.Data{To: to}, "Link is required"},
		{mail.ResetPassword, mail.Data{To: to, Link: "javascript:alert(1)"}, "want an absolute http(s) URL"},
		{mail.ResetPassword, mail.Data{To: to, Link: "/relative"}, "want an absolute http(s) URL"},
		{mail.MagicLink, mail.Data{To: to}, "Link or Code is required"},
		{mail.EmailChanged, mail.Data{To: to}, "NewEmail is required"},
	}
	for _, tt := range tests {
		_, err := mail.Render(tt.kind, tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Render(%s, %+v) error = %v, want %q", tt.kind, tt.data, err, tt.want)
		}
	}
}

// TestRenderHostileAppName: the app name is configuration, but it still must
// not inject markup or headers.
func TestRenderHostileAppName(t *testing.T) {
	t.Parallel()
	m, err := mail.Render(mail.VerifyEmail, mail.Data{
		AppName: "<b>Evil</b>\r\nBcc: eve@example.com", To: "a@example.com", Link: "https://a.test/v",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", m.Subject)
	}
	if strings.Contains(m.HTML, "<b>Evil") {
		t.Errorf("html not escaped:\n%s", m.HTML)
	}
	if m.Subject == "" || !strings.Contains(m.Text, "a.test/v") {
		t.Errorf("message = %+v", m)
	}
}

func TestFirstLink(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"no link here":                              "",
		"open https://a.test/x?t=1.":                "https://a.test/x?t=1",
		"(see http://a.test/p), then":               "http://a.test/p",
		"first https://a.test/1 second https://b/2": "https://a.test/1",
		"<https://a.test/angle>":                    "https://a.test/angle",
	}
	for in, want := range tests {
		if got := mail.FirstLink(in); got != want {
			t.Errorf("FirstLink(%q) = %q, want %q", in, got, want)
		}
	}
}
