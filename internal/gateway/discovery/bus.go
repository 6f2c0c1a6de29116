package discovery

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bamhq/bam/internal/gateway/upstream"
)

// Core NATS subjects of self-registration (no JetStream: announcements are
// only worth anything live).
const (
	// Subject carries Announcements.
	Subject = "bam.discovery.announce"
	// QuerySubject asks every service to announce itself at once (a gateway
	// that just started need not wait an interval).
	QuerySubject = "bam.discovery.query"
)

// Announcement is what a service replica says about itself on Subject.
type Announcement struct {
	Service  string `json:"service"`
	URL      string `json:"url"` // its own listener, as others reach it
	Version  string `json:"version,omitempty"`
	Instance string `json:"instance"` // unique per process
	Ready    bool   `json:"ready"`
	// Gone is the goodbye, sent when the replica stops.
	Gone bool `json:"gone,omitempty"`
	// IntervalMS is how often the replica announces; it is forgotten after
	// three intervals of silence. A registry caps it at maxInterval.
	IntervalMS int64 `json:"interval_ms"`
}

// maxInterval caps an announced interval: a replica that claims a huge one
// would otherwise stay in the pool long after it fell silent.
const maxInterval = time.Minute

// Announcer announces one service replica until stopped.
type Announcer struct {
	Conn                            *nats.Conn
	Service, URL, Version, Instance string
	// Interval is the time between announcements (5s).
	Interval time.Duration
	// Ready says whether the replica takes requests (nil: always).
	Ready func(context.Context) error
	Log   *slog.Logger
}

// Run announces now, every Interval and on each query, until ctx is done;
// then it says goodbye.
func (a *Announcer) Run(ctx context.Context) {
	if a.Interval <= 0 {
		a.Interval = 5 * time.Second
	}
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	query := make(chan struct{}, 1)
	sub, err := a.Conn.Subscribe(QuerySubject, func(*nats.Msg) {
		select {
		case query <- struct{}{}:
		default:
		}
	})
	if err != nil {
		a.Log.Warn("discovery: cannot hear queries", "err", err)
	} else {
		defer func() { _ = sub.Unsubscribe() }()
	}
	tick := time.NewTicker(a.Interval)
	defer tick.Stop()
	for {
		a.send(ctx, false)
		select {
		case <-ctx.Done():
			a.send(context.WithoutCancel(ctx), true)
			_ = a.Conn.FlushTimeout(time.Second)
			return
		case <-tick.C:
		case <-query:
		}
	}
}

func (a *Announcer) send(ctx context.Context, gone bool) {
	m := Announcement{Service: a.Service, URL: a.URL, Version: a.Version, Instance: a.Instance,
		Gone: gone, IntervalMS: a.Interval.Milliseconds()}
	if !gone {
		m.Ready = true
		if a.Ready != nil {
			rctx, cancel := context.WithTimeout(ctx, min(a.Interval, 2*time.Second))
			m.Ready = a.Ready(rctx) == nil
			cancel()
		}
	}
	b, _ := json.Marshal(m)
	if err := a.Conn.Publish(Subject, b); err != nil {
		a.Log.Warn("discovery: announcement not sent", "service", a.Service, "err", err)
	}
}

// Registry keeps, per service, the replicas that announce themselves, and
// feeds them to the service's Targets as the "bus" source.
type Registry struct {
	Conn *nats.Conn
	Log  *slog.Logger

	mu       sync.Mutex
	services map[string]*Targets
	seen     map[string]map[string]replica // service → instance → replica
}

type replica struct {
	url     string
	expires time.Time
}

// Add makes the registry track service's replicas into t. Call it before Run.
func (r *Registry) Add(service string, t *Targets) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = map[string]*Targets{}
		r.seen = map[string]map[string]replica{}
	}
	r.services[service] = t
	r.seen[service] = map[string]replica{}
}

// Run listens to announcements until ctx is done, forgetting silent
// replicas each second.
func (r *Registry) Run(ctx context.Context) error {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	sub, err := r.Conn.Subscribe(Subject, func(m *nats.Msg) {
		var a Announcement
		if err := json.Unmarshal(m.Data, &a); err != nil || a.Service == "" || a.Instance == "" {
			return
		}
		r.hear(a, time.Now())
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = r.Conn.Publish(QuerySubject, nil)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			r.sweep(now)
		}
	}
}

func (r *Registry) hear(a Announcement, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	known, ok := r.seen[a.Service]
	if !ok {
		return // a service this gateway does not reach over the network
	}
	_, had := known[a.Instance]
	if a.Gone || !a.Ready || a.URL == "" {
		if !had {
			return
		}
		delete(known, a.Instance)
		r.Log.Info("discovery: replica left", "service", a.Service, "url", a.URL, "instance", a.Instance, "gone", a.Gone, "ready", a.Ready)
	} else {
		if err := upstream.CheckTarget(a.URL); err != nil {
			if !had { // a known instance keeps the URL it joined with
				r.Log.Warn("discovery: announced URL refused", "service", a.Service, "url", a.URL, "instance", a.Instance, "err", err)
			}
			return
		}
		every := min(max(time.Duration(a.IntervalMS)*time.Millisecond, 100*time.Millisecond), maxInterval)
		known[a.Instance] = replica{url: a.URL, expires: now.Add(3 * every)}
		if had {
			return // the URL of an instance does not change
		}
		r.Log.Info("discovery: replica joined", "service", a.Service, "url", a.URL, "instance", a.Instance, "version", a.Version)
	}
	r.applyLocked(a.Service)
}

func (r *Registry) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for service, known := range r.seen {
		changed := false
		for id, rep := range known {
			if now.After(rep.expires) {
				delete(known, id)
				changed = true
				r.Log.Warn("discovery: replica fell silent; removed", "service", service, "url", rep.url, "instance", id)
			}
		}
		if changed {
			r.applyLocked(service)
		}
	}
}

func (r *Registry) applyLocked(service string) {
	var urls []string
	for _, rep := range r.seen[service] {
		urls = append(urls, rep.url)
	}
	slices.Sort(urls)
	if err := r.services[service].Set("bus", urls); err != nil {
		r.Log.Warn("discovery: replicas not applied", "service", service, "err", err)
	}
}

// Replicas returns the URLs of service's announced replicas, sorted.
func (r *Registry) Replicas(service string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var urls []string
	for _, rep := range r.seen[service] {
		urls = append(urls, rep.url)
	}
	slices.Sort(urls)
	return urls
}
