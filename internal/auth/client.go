package auth

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// client is where a request came from, for sessions, audit and throttling.
type client struct {
	IP        string
	UserAgent string
}

type clientKey struct{}

func withClient(ctx context.Context, c client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// clientOf reads the caller's address. X-Forwarded-For is trusted only in
// the form the gateway writes it (it drops what clients send), so the last
// hop the gateway appended is the client.
func clientOf(r *http.Request) client {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		ip = strings.TrimSpace(parts[len(parts)-1])
	}
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return client{IP: ip, UserAgent: ua}
}
