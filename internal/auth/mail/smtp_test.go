package mail_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/mail/mailtest"
)

const from = "Acme <no-reply@acme.test>"

func verifyMail(t *testing.T, to string) mail.Message {
	t.Helper()
	m, err := mail.Render(mail.VerifyEmail, mail.Data{
		AppName: "Acme", To: to, Link: "https://acme.test/verify?token=abc123", Expires: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     mailtest.Options
		wantTLS  bool
		wantUser string
	}{
		{name: "plain, no auth", opts: mailtest.Options{}},
		{name: "plain, auth", opts: mailtest.Options{Username: "mailer", Password: "p4ss"}, wantUser: "mailer"},
		{name: "starttls, auth", opts: mailtest.Options{Username: "mailer", Password: "p4ss", StartTLS: true}, wantTLS: true, wantUser: "mailer"},
		{name: "implicit tls, auth", opts: mailtest.Options{Username: "mailer", Password: "p4ss", ImplicitTLS: true}, wantTLS: true, wantUser: "mailer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.Start(t, tt.opts)
			s, err := mail.Open(srv.URL(), from, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := s.Send(ctx, verifyMail(t, "alice@example.com")); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, err := srv.Wait(ctx, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.From != "no-reply@acme.test" || got.Subject != "Confirm your email address for Acme" {
				t.Errorf("from %q, subject %q", got.From, got.Subject)
			}
			if !strings.Contains(got.Text, "https://acme.test/verify?token=abc123\n") {
				t.Errorf("text lacks the link:\n%s", got.Text)
			}
			if !strings.Contains(got.HTML, `href="https://acme.test/verify?token=abc123"`) {
				t.Errorf("html lacks the link:\n%s", got.HTML)
			}
			if got.TLS != tt.wantTLS || got.User != tt.wantUser {
				t.Errorf("TLS %v, user %q; want %v, %q", got.TLS, got.User, tt.wantTLS, tt.wantUser)
			}
			if h := got.Header["Auto-Submitted"]; len(h) != 1 || h[0] != "auto-generated" {
				t.Errorf("Auto-Submitted = %v", h)
			}
		})
	}
}

// TestSMTPWrongPassword checks that a failed login is an error that does
// not carry the password, in any form, and that nothing was delivered.
func TestSMTPWrongPassword(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "right"})
	const secret = "wr0ng-S3cret"
	url := strings.Replace(srv.URL(), "mailer:right@", "mailer:"+secret+"@", 1)
	s, err := mail.Open(url, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), verifyMail(t, "alice@example.com"))
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	plainB64 := base64.StdEncoding.EncodeToString([]byte("\x00mailer\x00" + secret))
	if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, plainB64) {
		t.Errorf("error reveals the password: %s", msg)
	}
	if !strings.Contains(err.Error(), "535") {
		t.Errorf("error does not say why: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
	t.Logf("error: %v", err)
}

// TestSMTPRequiredTLSMissing: with tls=required, a server without STARTTLS
// never sees the message (nor the password).
func TestSMTPRequiredTLSMissing(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "p4ss"})
	url := strings.Replace(srv.URL(), "tls=none", "tls=required", 1)
	s, err := mail.Open(url, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), verifyMail(t, "alice@example.com"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("tls=required against a server without STARTTLS: %v", err)
	}
}

// TestSMTPTimeout: a server that accepts the connection and never answers
// costs the sender the timeout, not forever.
func TestSMTPTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	s, err := mail.Open("smtp://"+ln.Addr().String()+"?tls=none&timeout=300ms", from, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(t.Context(), verifyMail(t, "alice@example.com"))
	if err == nil {
		t.Fatal("Send to a silent server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %s with a 300ms timeout", d)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, from, want string
	}{
		{"", from, "URL has no scheme"},
		{"mailto:x@y", from, `unsupported URL scheme "mailto"`},
		{"smtp://", from, "no host"},
		{"smtp://u:topsecret@mail.test:99999", from, `port "99999": want 1-65535`},
		{"smtp://u:topsecret@mail.test?tls=maybe", from, `tls="maybe": want starttls`},
		{"smtp://u:topsecret@mail.test?bogus=1", from, `unknown parameter "bogus"`},
		{"smtp://u:topsecret@mail.test?timeout=soon", from, `timeout="soon"`},
		{"smtp://u:topsecret@mail.test?auth=magic", from, `auth="magic"`},
		{"smtp://mail.test?auth=plain", from, "has no user"},
		{"smtps://u:topsecret@mail.test?tls=none", from, "smtps:// always uses implicit TLS"},
		{"smtp://u:topsecret@mail.test/path", from, "unexpected path"},
		{"smtp://u:top secret@mail test", from, "malformed smtp URL"},
		{"file://host/dir", from, `has host "host"`},
		{"file:", from, "has no directory"},
		{"log:", "", "from address is empty"},
		{"log:", "not an address", "from address"},
	}
	for _, tt := range tests {
		_, err := mail.Open(tt.url, tt.from, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) error = %v, want it to contain %q", tt.url, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "top secret") {
			t.Errorf("Open(%q) error reveals the password: %v", tt.url, err)
		}
	}
	if got := mail.Redact("smtp://u:topsecret@mail.test:587"); got != "smtp://u:xxxxx@mail.test:587" {
		t.Errorf("Redact = %s", got)
	}
}

// TestSMTPConcurrent: one Sender, many goroutines.
func TestSMTPConcurrent(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "p4ss"})
	s, err := mail.Open(srv.URL(), from, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	errc := make(chan error, n)
	for i := range n {
		m := verifyMail(t, fmt.Sprintf("user%d@example.com", i))
		go func() { errc <- s.Send(t.Context(), m) }()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range n {
		if _, err := srv.Wait(ctx, fmt.Sprintf("user%d@example.com", i)); err != nil {
			t.Error(err)
		}
	}
}
