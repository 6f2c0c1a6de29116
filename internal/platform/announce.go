package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/bamhq/bam/internal/gateway/discovery"
	"github.com/bamhq/bam/internal/gateway/upstream"
)

// Self-registration, both ends: a service on its own listener announces
// itself on the bus (announcing), and a gateway that reaches services over
// the network feeds their pools from static URLs, DNS names and the
// announcements (discoveredPool). Announcements need a bus other processes
// share: nats.url, or an embedded server with a listener.

// busDiscovery reports whether this process's gateway takes replicas from
// announcements: gateway.discovery is bus and the bus is shared.
func (p *Platform) busDiscovery() bool {
	return p.Config.Gateway.Discovery == "bus" && p.Config.NATS.URL != ""
}

// gatewayDeps are the modules the gateway cannot start without: the bus
// when it listens for announcements.
func (p *Platform) gatewayDeps() []string {
	if p.busDiscovery() {
		return []string{ModuleBus}
	}
	return nil
}

// discoveredPool returns the pool of a service this process does not run,
// fed by its static URLs, its dns+http:// names (re-resolved by a watcher
// added to gs) and, with bus discovery, its announcements. nil: the
// service cannot be reached from here.
func (p *Platform) discoveredPool(ctx context.Context, s Spec, gs *gatewayService, tr *http.Transport) (*upstream.Pool, error) {
	var raws []string
	for _, r := range strings.Split(s.Upstream, ",") {
		if r = strings.TrimSuffix(strings.TrimSpace(r), "/"); r != "" {
			raws = append(raws, r)
		}
	}
	static, names := discovery.Split(raws)
	if len(raws) == 0 && !p.busDiscovery() {
		return nil, nil
	}
	tr, err := discovery.Transport(tr, static, names)
	if err != nil {
		return nil, fmt.Errorf("%s.url: %w", s.Name, err)
	}
	pool, err := upstream.New(upstream.Options{Name: s.Name, Targets: static, Transport: tr, Logger: p.Log})
	if err != nil {
		return nil, err
	}
	targets := discovery.NewTargets(pool, static)
	dns := discovery.DNS{Interval: p.Config.Gateway.DNSInterval, Log: p.Log}
	for _, raw := range names {
		if _, _, _, err := discovery.ParseDNS(raw); err != nil {
			_ = pool.Close()
			return nil, err
		}
		// A first answer now, so the pool has replicas when the listener opens.
		gs.discover = append(gs.discover, dns.Follow(ctx, raw, func(ts []string) error { return targets.Set(raw, ts) }))
	}
	if p.busDiscovery() {
		if gs.registry == nil {
			gs.registry = &discovery.Registry{Log: p.Log}
			gs.discover = append(gs.discover, func(ctx context.Context) {
				if p.Bus == nil {
					return
				}
				gs.registry.Conn = p.Bus.Conn()
				if err := gs.registry.Run(ctx); err != nil {
					p.Log.Error("discovery: cannot hear announcements", "err", err)
				}
			})
		}
		gs.registry.Add(s.Name, targets)
	}
	return pool, nil
}

// announcing announces one service listener on the bus while it serves.
type announcing struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startAnnouncing begins announcing service's listener w, when the bus is
// one other processes share; stop with stopAnnouncing.
func (p *Platform) startAnnouncing(service string, w *withListener) {
	b := p.Bus
	if b == nil || b.URL() == "" {
		return // no bus, or an embedded one nobody else hears
	}
	url, err := p.advertiseURL(w.BoundAddr())
	if err != nil {
		p.Log.Warn("discovery: not announcing", "service", service, "err", err)
		return
	}
	a := &discovery.Announcer{Conn: b.Conn(), Service: service, URL: url, Version: p.Version,
		Instance: instanceID(), Interval: p.Config.Gateway.AnnounceInterval, Ready: w.Ready, Log: p.Log}
	ctx, cancel := context.WithCancel(context.Background())
	w.announce = &announcing{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.announce.done)
		a.Run(ctx)
	}()
	p.Log.Info("discovery: announcing", "service", service, "url", url, "instance", a.Instance)
}

// stopAnnouncing says goodbye, so gateways stop sending before the
// listener drains.
func (w *withListener) stopAnnouncing() {
	if w.announce != nil {
		w.announce.cancel()
		<-w.announce.done
		w.announce = nil
	}
}

// advertiseURL is how other processes reach a listener bound to addr:
// gateway.advertise_host, else the bound host, else (bound to every
// interface) this machine's first non-loopback address.
func (p *Platform) advertiseURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listener address %q: %w", addr, err)
	}
	if h := p.Config.Gateway.AdvertiseHost; h != "" {
		host = h
	} else if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = firstAddress()
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// firstAddress is this machine's first non-loopback unicast IP (a pod's IP
// in Kubernetes), or 127.0.0.1.
func firstAddress() string {
	addrs, _ := net.InterfaceAddrs()
	var v6 string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			return n.IP.String()
		}
		if v6 == "" {
			v6 = n.IP.String()
		}
	}
	if v6 != "" {
		return v6
	}
	return "127.0.0.1"
}

// instanceID names this process's replica uniquely: host, pid and a random
// suffix (a restarted process is a new instance).
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
