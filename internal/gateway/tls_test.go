package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/gateway"
	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/kernel"
)

// testPKI is a throwaway CA with the certificates it issued, as PEM files.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	caFile string
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bam test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for 127.0.0.1 and localhost, for a server or
// a client, and returns its files.
func (p *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	return p.issueFor(t, name, usage, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// issueFor makes a certificate for the given names and addresses.
func (p *testPKI) issueFor(t *testing.T, name string, usage x509.ExtKeyUsage, dnsNames []string, ips []net.IP) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: dnsNames, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "PRIVATE KEY", keyDER)
}

func TestServesHTTPS(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.issue(t, "gateway", x509.ExtKeyUsageServerAuth)
	up := echoServer(t, "a")
	c, err := loadConfig(t, fmt.Sprintf("gateway:\n  tls_cert: %s\n  tls_key: %s\n  routes:\n    - {path: /o/, upstream: %s, auth: none}\n",
		certFile, keyFile, up))
	if err != nil {
		t.Fatal(err)
	}
	b := &gateway.Builder{Log: quiet()}
	t.Cleanup(func() { b.Close() })
	g, err := b.New(c, gateway.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := gateway.ServerTLS(c.Gateway.TLSCert, c.Gateway.TLSKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &kernel.HTTPServer{Name: "gateway", Addr: "127.0.0.1:0", Handler: httpx.Stack("gateway", quiet(), g), Log: quiet(), TLS: conf}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })

	client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	resp, err := client.Get("https://" + srv.BoundAddr() + "/o/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"tag":"a"`) {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s; want HTTP/2", resp.Proto)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q", hsts)
	}

	// TLS 1.1 and plain HTTP are refused on that port.
	tls11 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool,
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if resp, err := tls11.Get("https://" + srv.BoundAddr() + "/o/x"); err == nil {
		resp.Body.Close()
		t.Error("TLS 1.1 accepted")
	}
	resp, err = http.Get("http://" + srv.BoundAddr() + "/o/x")
	if err == nil {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), `"tag"`) {
			t.Errorf("plain HTTP: status %d, body %s; want 400 and no upstream", resp.StatusCode, body)
		}
	}
}

func TestHSTSOnlyOverTLS(t *testing.T) {
	srv, _ := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /o/, upstream: %s, auth: none}\n", echoServer(t, "a")))
	resp, _ := do(t, "GET", srv.URL+"/o/x", nil)
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("HSTS over plain HTTP: %q", hsts)
	}
}

// TestUpstreamMTLS: an upstream that requires a client certificate is
// reached with gateway.upstream_cert, and refuses the gateway without.
func TestUpstreamMTLS(t *testing.T) {
	pki := newPKI(t)
	serverCert, serverKey := pki.issue(t, "upstream", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := pki.issue(t, "gateway-client", x509.ExtKeyUsageClientAuth)
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	up.StartTLS()
	t.Cleanup(up.Close)

	for _, tt := range []struct {
		name       string
		cert, key  string
		wantStatus int
	}{
		{"with the client certificate", clientCert, clientKey, http.StatusOK},
		{"without", "", "", http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /m/, upstream: %s, auth: none, retries: 0}\n", up.URL))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := gateway.UpstreamTransport(pki.caFile, tt.cert, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			b := &gateway.Builder{Log: quiet(), Transport: tr}
			t.Cleanup(func() { b.Close() })
			g, err := b.New(c, gateway.Options{Log: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
			t.Cleanup(srv.Close)
			resp, err := http.Get(srv.URL + "/m/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d (%s); want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK && string(body) != "hello gateway-client" {
				t.Errorf("body %q", body)
			}
		})
	}
}

func TestUpstreamTransportErrors(t *testing.T) {
	pki := newPKI(t)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("nope"), 0o600)
	for _, args := range [][3]string{
		{notPEM, "", ""},
		{"/missing.pem", "", ""},
		{pki.caFile, pki.caFile, ""},
		{"", notPEM, notPEM},
	} {
		if _, err := gateway.UpstreamTransport(args[0], args[1], args[2]); err == nil {
			t.Errorf("UpstreamTransport%q accepted", args)
		}
	}
	if tr, err := gateway.UpstreamTransport("", "", ""); tr != nil || err != nil {
		t.Errorf("no files: %v, %v; want nil, nil", tr, err)
	}
}

// TestRouteDNSHTTPSChecksName: the replicas of a dns+https:// upstream are
// dialled by address and their certificates checked against the name (a
// certificate for the name only is accepted, one for another name is
// not); such a name cannot share a route with other https replicas.
func TestRouteDNSHTTPSChecksName(t *testing.T) {
	pki := newPKI(t)
	tr, err := gateway.UpstreamTransport(pki.caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	res := &switchingResolver{}
	res.set("127.0.0.1")
	replica := func(certName string) int {
		certFile, keyFile := pki.issueFor(t, certName, x509.ExtKeyUsageServerAuth, []string{certName}, nil)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
		up.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
		up.StartTLS()
		t.Cleanup(up.Close)
		return up.Listener.Addr().(*net.TCPAddr).Port
	}
	get := func(upstream string) (int, error) {
		t.Helper()
		c, err := loadConfig(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /o/, upstream: %q, auth: none, retries: 0}\n", upstream))
		if err != nil {
			t.Fatal(err)
		}
		b := &gateway.Builder{Log: quiet(), Transport: tr, DNS: discovery.DNS{Resolver: res, Interval: time.Hour}}
		t.Cleanup(func() { b.Close() })
		g, err := b.New(c, gateway.Options{Log: quiet()})
		if err != nil {
			return 0, err
		}
		srv := httptest.NewServer(httpx.Stack("gateway", quiet(), g))
		t.Cleanup(srv.Close)
		resp, err := http.Get(srv.URL + "/o/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	if code, err := get(fmt.Sprintf("dns+https://orders.test:%d", replica("orders.test"))); err != nil || code != http.StatusOK {
		t.Errorf("a replica whose certificate names the upstream: %d, %v; want 200", code, err)
	}
	if code, err := get(fmt.Sprintf("dns+https://orders.test:%d", replica("other.test"))); err != nil || code < 500 {
		t.Errorf("a replica whose certificate names another host: %d, %v; want a 5xx", code, err)
	}
	if _, err := get("dns+https://orders.test:1,https://127.0.0.1:2"); err == nil || !strings.Contains(err.Error(), "dns+https") {
		t.Errorf("dns+https beside another https replica: %v, want a configuration error", err)
	}
}
