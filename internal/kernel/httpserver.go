package kernel

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bamhq/bam/internal/httpx"
)

// HTTPServer is a Service that serves an http.Handler on a TCP address.
// Start binds the port (so a taken port fails start-up, not later); Stop
// stops accepting new connections and waits for in-flight requests until
// the stop deadline, then closes what is left.
type HTTPServer struct {
	Name    string // for logs, e.g. "ops"
	Addr    string // host:port; port 0 picks a free one
	Handler http.Handler
	Log     *slog.Logger
	// TLS, when set, makes the listener serve HTTPS (HTTP/2 offered through
	// ALPN); its certificates or GetCertificate must be set.
	TLS *tls.Config

	srv    *http.Server
	bound  atomic.Pointer[string] // the listener's address, once bound
	failed chan error
}

// Start implements Service.
func (s *HTTPServer) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	s.bound.Store(&addr)
	s.failed = make(chan error, 1)
	s.srv = &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Handlers behind the in-process transport bound the body they read
		// through the connection (httpx.BodyReadTimeout).
		ConnContext: httpx.WithConn,
		ErrorLog:    slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	if s.TLS != nil {
		s.srv.TLSConfig = s.TLS.Clone()
	}
	go func() {
		if err := s.serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.failed <- err
		}
		close(s.failed)
	}()
	scheme := "http://"
	if s.TLS != nil {
		scheme = "https://"
	}
	s.Log.Info("listening", "server", s.Name, "addr", scheme+displayAddr(ln.Addr()))
	return nil
}

// serve serves plain HTTP, or HTTPS when s.TLS is set.
func (s *HTTPServer) serve(ln net.Listener) error {
	if s.TLS == nil {
		return s.srv.Serve(ln)
	}
	return s.srv.ServeTLS(ln, "", "") // the certificates come from TLSConfig
}

// Stop implements Service: graceful shutdown bounded by ctx.
func (s *HTTPServer) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.Log.Warn("drain deadline reached; closing remaining connections", "server", s.Name)
		return errors.Join(err, s.srv.Close())
	}
	return err
}

// Failed implements Failer.
func (s *HTTPServer) Failed() <-chan error { return s.failed }

// BoundAddr returns the bound address once started (useful with port 0),
// or "" before; safe to call from any goroutine.
func (s *HTTPServer) BoundAddr() string {
	if a := s.bound.Load(); a != nil {
		return *a
	}
	return ""
}

// displayAddr turns a wildcard listen address into one a person can click.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}
