// Package mailtest runs a real SMTP server for tests: it listens on
// 127.0.0.1 on a free port, accepts every message (optionally only after
// AUTH PLAIN, optionally over STARTTLS or implicit TLS with a self-signed
// certificate), and hands the parsed messages to the test.
//
//	srv := mailtest.Start(t, mailtest.Options{Username: "u", Password: "p"})
//	sender, _ := mail.Open(srv.URL(), "App <no-reply@example.com>", nil)
//	… code under test sends to alice@example.com …
//	got, err := srv.Wait(ctx, "alice@example.com")
package mailtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure Start. The zero value is a plain server without AUTH.
type Options struct {
	// Username and Password, when set, make the server offer AUTH PLAIN
	// and accept mail only after a login with exactly these.
	Username, Password string
	// StartTLS offers STARTTLS; AUTH is then refused until TLS is on.
	StartTLS bool
	// ImplicitTLS speaks TLS from the first byte (smtps://).
	ImplicitTLS bool
}

// Received is one message as the server got it.
type Received struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	TLS     bool     // whether the session was encrypted
	User    string   // the authenticated user, "" without AUTH
	Subject string   // decoded
	Text    string   // the decoded text/plain part
	HTML    string   // the decoded text/html part, if any
	Header  map[string][]string
	Raw     []byte // the message as transmitted
}

// Server is a running test SMTP server.
type Server struct {
	opts Options
	addr string
	srv  *smtp.Server

	mu      sync.Mutex
	all     []Received
	pending []Received
	arrived chan struct{} // closed and replaced on every message
}

// Start runs a server until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.AllowInsecureAuth = !opts.StartTLS

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	if opts.StartTLS || opts.ImplicitTLS {
		cert, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: %v", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.ImplicitTLS {
			ln = tls.NewListener(ln, s.srv.TLSConfig)
		}
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln) // returns when closed
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is a mail URL that reaches this server with the configured
// credentials: smtp://…?tls=none for a plain server, certificate checks off
// for the TLS variants.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	q := url.Values{}
	switch {
	case s.opts.ImplicitTLS:
		u.Scheme = "smtps"
		q.Set("insecure_skip_verify", "1")
	case s.opts.StartTLS:
		q.Set("tls", "required")
		q.Set("insecure_skip_verify", "1")
	default:
		q.Set("tls", "none")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Wait returns the oldest message to recipient to that no Wait has returned
// yet, waiting for one to arrive until ctx ends.
func (s *Server) Wait(ctx context.Context, to string) (Received, error) {
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.pending, func(r Received) bool {
			return slices.ContainsFunc(r.To, func(a string) bool { return strings.EqualFold(a, to) })
		})
		if i >= 0 {
			r := s.pending[i]
			s.pending = slices.Delete(s.pending, i, i+1)
			s.mu.Unlock()
			return r, nil
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Received{}, fmt.Errorf("mailtest: no mail to %s: %w", to, ctx.Err())
		}
	}
}

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

func (s *Server) deliver(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, r)
	s.pending = append(s.pending, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one SMTP connection; authSession adds AUTH PLAIN to it.
type session struct {
	srv  *Server
	tls  bool
	user string
	from string
	to   []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	base := &session{srv: s, tls: isTLS}
	if s.opts.Username == "" {
		return base, nil
	}
	return &authSession{session: base}, nil
}

func (ss *session) authorized() error {
	if ss.srv.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.authorized(); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.authorized(); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if err := ss.authorized(); err != nil {
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable message: " + err.Error()}
	}
	rec.From, rec.To, rec.TLS, rec.User = ss.from, slices.Clone(ss.to), ss.tls, ss.user
	ss.srv.deliver(rec)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

type authSession struct{ *session }

func (as *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != as.srv.opts.Username || password != as.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		as.user = username
		return nil
	}), nil
}
