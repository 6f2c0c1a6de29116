package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Replicas is an http.RoundTripper that spreads requests round-robin over
// the replicas of one service and moves on to the next replica when a dial
// fails (nothing was sent, so any method may be retried). It is the plain
// service-to-service transport; the gateway balances with its own.
type Replicas struct {
	bases []*url.URL
	next  atomic.Uint64
	rt    *http.Transport
}

// NewReplicas returns a transport to the replicas at baseURLs, each an
// http(s) scheme and host only, e.g. "http://127.0.0.1:8081". A request's
// URL scheme and host are replaced by the chosen replica's; its path and
// query are kept, and so is req.Host when the caller set one.
func NewReplicas(baseURLs []string) (*Replicas, error) {
	if len(baseURLs) == 0 {
		return nil, errors.New("transport: no replica addresses")
	}
	r := &Replicas{rt: NewHTTPTransport()}
	for _, s := range baseURLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("transport: replica %q: %w", s, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("transport: replica %q: want scheme://host[:port] only", s)
		}
		r.bases = append(r.bases, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	return r, nil
}

// NewHTTPTransport returns the *http.Transport tuned for calls between bam
// services: many idle connections per host (a busy gateway keeps hundreds of
// requests in flight to each service), a short dial timeout so that a dead
// replica is skipped quickly, no proxy from the environment, and no
// transparent gzip (bodies pass through unchanged, as in-process). There is
// no overall timeout: callers bound each call with their context, and
// streams may last.
func NewHTTPTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   2 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true,
	}
}

// RoundTrip sends req to the next replica, and on to the following ones
// while dialing fails.
func (r *Replicas) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *HeldBody
	if req.Body != nil && req.Body != http.NoBody {
		body = HoldBody(req.Body)
		defer body.Release()
	}
	start := r.next.Add(1) - 1
	var errs []error
	for i := range len(r.bases) {
		base := r.bases[(start+uint64(i))%uint64(len(r.bases))]
		out := *req // shallow: RoundTrip must not modify req
		u := *req.URL
		u.Scheme, u.Host = base.Scheme, base.Host
		out.URL = &u
		if body != nil {
			if i > 0 {
				body.NextAttempt()
			}
			out.Body = body
		}
		resp, err := r.rt.RoundTrip(&out)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", base.Host, err))
		if !isDialError(err) || (body != nil && body.Touched()) || req.Context().Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("transport: no replica answered: %w", errors.Join(errs...))
}

// CloseIdleConnections closes idle connections to all replicas; http.Client
// calls it from its own CloseIdleConnections.
func (r *Replicas) CloseIdleConnections() { r.rt.CloseIdleConnections() }

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
