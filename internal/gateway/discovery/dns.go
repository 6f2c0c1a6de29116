package discovery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// DNSPrefix marks an upstream URL whose host is a DNS name to re-resolve:
// dns+http://auth.bam.svc.cluster.local:8081 stands for http://IP:8081 for
// every A and AAAA record of the name.
const DNSPrefix = "dns+"

// IsDNS reports whether raw is a dns+http(s):// upstream URL.
func IsDNS(raw string) bool { return strings.HasPrefix(raw, DNSPrefix) }

// Split separates DNS upstream URLs from static ones.
func Split(raws []string) (static, dns []string) {
	for _, r := range raws {
		if IsDNS(r) {
			dns = append(dns, r)
		} else {
			static = append(static, r)
		}
	}
	return static, dns
}

// Resolver looks up a name's addresses; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// DNS re-resolves dns+ upstream URLs.
type DNS struct {
	// Resolver answers the lookups (nil: net.DefaultResolver).
	Resolver Resolver
	// Interval is the time between lookups (10s).
	Interval time.Duration
	Log      *slog.Logger
}

// ParseDNS checks a dns+http(s)://name[:port] URL and returns its scheme,
// name and port (the scheme's default when absent).
func ParseDNS(raw string) (scheme, host, port string, err error) {
	u, err := url.Parse(strings.TrimPrefix(raw, DNSPrefix))
	if err != nil || !IsDNS(raw) {
		return "", "", "", fmt.Errorf("%q: want dns+http://NAME:PORT", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", "", "", fmt.Errorf("%q: want dns+http://NAME:PORT or dns+https://NAME:PORT", raw)
	}
	port = u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme, u.Hostname(), port, nil
}

// Resolve returns one target URL per address of raw's name, sorted.
func (d DNS) Resolve(ctx context.Context, raw string) ([]string, error) {
	scheme, host, port, err := ParseDNS(raw)
	if err != nil {
		return nil, err
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		ip := a.IP.String()
		if a.Zone != "" {
			ip += "%25" + a.Zone
		}
		out = append(out, scheme+"://"+net.JoinHostPort(ip, port))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// primeTimeout bounds Follow's first lookup.
const primeTimeout = 2 * time.Second

// Follow gives set the addresses of raw now (within primeTimeout, so that
// a pool has replicas before it serves; a failed lookup is left to the
// watch) and returns the watch to run, which resolves raw again every
// Interval from then on, as Watch does, until its ctx is done.
func (d DNS) Follow(ctx context.Context, raw string, set func([]string) error) (watch func(context.Context)) {
	rctx, cancel := context.WithTimeout(ctx, primeTimeout)
	primed := false
	if ts, err := d.Resolve(rctx, raw); err == nil {
		primed = set(ts) == nil
	}
	cancel()
	return func(ctx context.Context) { d.watch(ctx, raw, set, !primed) }
}

// Watch resolves raw now and then every Interval until ctx is done, giving
// each answer to set. A failed lookup keeps the previous answer (a DNS
// hiccup must not empty a pool); a name that no longer exists (NXDOMAIN)
// empties it.
func (d DNS) Watch(ctx context.Context, raw string, set func([]string) error) {
	d.watch(ctx, raw, set, true)
}

// watch is Watch, whose first lookup waits an Interval unless now.
func (d DNS) watch(ctx context.Context, raw string, set func([]string) error, now bool) {
	every := d.Interval
	if every <= 0 {
		every = 10 * time.Second
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if !now {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		lctx, cancel := context.WithTimeout(ctx, min(every, 5*time.Second))
		targets, err := d.Resolve(lctx, raw)
		cancel()
		var dnsErr *net.DNSError
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			log.Warn("discovery: DNS name not found; no replicas", "upstream", raw, "err", err)
			_ = set(nil)
		case err != nil:
			log.Warn("discovery: DNS lookup failed; keeping the replicas known", "upstream", raw, "err", err)
		default:
			if err := set(targets); err != nil {
				log.Warn("discovery: replicas not applied", "upstream", raw, "err", err)
			}
		}
		now = false
	}
}

// Transport returns the template transport of a pool over static URLs
// and dns+ names: base, except that the replicas of a
// dns+https:// name, dialled by address, must have their certificates
// checked against the name, not the address. One transport checks one
// name, so such a name cannot share its route with other https replicas.
func Transport(base *http.Transport, static, names []string) (*http.Transport, error) {
	var tlsNames []string
	for _, raw := range names {
		if scheme, host, _, err := ParseDNS(raw); err == nil && scheme == "https" && !slices.Contains(tlsNames, host) {
			tlsNames = append(tlsNames, host)
		}
	}
	if len(tlsNames) == 0 {
		return base, nil
	}
	if len(tlsNames) > 1 || slices.ContainsFunc(static, func(t string) bool { return strings.HasPrefix(t, "https://") }) {
		return nil, errors.New("the replicas of a dns+https:// name have their certificates checked against that name: it cannot share a route with other https replicas")
	}
	tr := base
	if tr == nil {
		tr = upstream.NewTransport()
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.ServerName = tlsNames[0]
	return tr, nil
}
