package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// ServerTLS returns the public listener's TLS configuration for the PEM
// certificate (chain) and key files: TLS 1.2 or later, HTTP/2 offered
// through ALPN. The files are read now — a bad pair fails start-up — and
// again when either changes (checked at most every few seconds on new
// handshakes), so a renewed certificate is served without a restart; a
// renewal that does not load keeps the old pair.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	c := &certFiles{cert: certFile, key: keyFile}
	if err := c.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: c.get,
	}, nil
}

// certFiles is a certificate and key pair kept in sync with their files.
type certFiles struct {
	cert, key string

	mu      sync.Mutex
	pair    *tls.Certificate
	mod     [2]time.Time // the files' modification times when loaded
	checked time.Time
}

const certCheckEvery = 5 * time.Second

func (c *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= certCheckEvery {
		c.checked = now
		if mod, err := c.modTimes(); err == nil && mod != c.mod {
			_ = c.loadLocked() // on error the old pair stays
		}
	}
	return c.pair, nil
}

func (c *certFiles) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = time.Now()
	return c.loadLocked()
}

func (c *certFiles) loadLocked() error {
	mod, err := c.modTimes()
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("gateway: tls_cert %s, tls_key %s: %w", c.cert, c.key, err)
	}
	c.pair, c.mod = &pair, mod
	return nil
}

func (c *certFiles) modTimes() ([2]time.Time, error) {
	var out [2]time.Time
	for i, f := range []string{c.cert, c.key} {
		st, err := os.Stat(f)
		if err != nil {
			return out, fmt.Errorf("gateway: %w", err)
		}
		out[i] = st.ModTime()
	}
	return out, nil
}

// UpstreamTransport returns the template transport of upstream pools when
// they must speak TLS differently from the defaults: caFile (PEM) replaces
// the system roots for verifying https:// upstreams, and certFile/keyFile
// are the client certificate presented to them (mTLS). All empty: nil, the
// pools' default transport.
func UpstreamTransport(caFile, certFile, keyFile string) (*http.Transport, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: upstream_ca: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gateway: upstream_ca %s: no PEM certificate in it", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("gateway: upstream_cert and upstream_key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: upstream_cert %s, upstream_key %s: %w", certFile, keyFile, err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	tr := upstream.NewTransport()
	tr.TLSClientConfig = conf
	return tr, nil
}
