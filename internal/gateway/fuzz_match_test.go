package gateway_test

import (
	"bufio"
	"cmp"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/gateway"
)

// fuzzRoutes overlap on purpose: nested prefixes, one without a trailing
// slash, a host-specific and a method-specific twin, a stripped prefix.
var fuzzRoutes = []gateway.Route{
	{Prefix: "/", Upstream: "up", Auth: gateway.AuthNone},
	{Prefix: "/v1/", Upstream: "up", Auth: gateway.AuthNone},
	{Prefix: "/v1/orders/", Upstream: "up", Auth: gateway.AuthNone, Methods: []string{"GET", "POST"}},
	{Prefix: "/v1/orders/", Upstream: "up", Auth: gateway.AuthNone, Host: "api.example.com"},
	{Prefix: "/api", Upstream: "up", Auth: gateway.AuthNone},
	{Prefix: "/v2/users/", Upstream: "up", Auth: gateway.AuthNone, StripPrefix: true},
}

// FuzzMatch: for any method, host and path, Match picks a route that
// matches all three, and no route with a longer prefix matches too; when
// it picks none, none matches.
func FuzzMatch(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "api.example.com", "/v1/orders/42"},
		{"DELETE", "api.example.com:443", "/v1/orders/42"},
		{"DELETE", "other", "/v1/orders/42"},
		{"HEAD", "x", "/v1/orders"},
		{"GET", "x", "/apix"},
		{"GET", "x", "/api"},
		{"GET", "[::1]:80", "/api/v"},
		{"GET", "API.EXAMPLE.COM", "/v1/orders/"},
		{"GET", "x", ""},
		{"GET", "x", "v1/"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	g, _ := recordingGateway(f, nil, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, method, host, p string) {
		got, ok := g.Match(method, host, p)
		var best *gateway.Route
		for i, r := range fuzzRoutes {
			if routeMatches(r, method, host, p) && (best == nil || len(r.Prefix) > len(best.Prefix)) {
				best = &fuzzRoutes[i]
			}
		}
		switch {
		case !ok && best != nil:
			t.Fatalf("%s %s %s: no route, but %s (host %q) matches", method, host, p, best.Prefix, best.Host)
		case ok && !routeMatches(got, method, host, p):
			t.Fatalf("%s %s %s: matched %s (host %q, methods %v), which does not match", method, host, p, got.Prefix, got.Host, got.Methods)
		case ok && len(got.Prefix) < len(best.Prefix):
			t.Fatalf("%s %s %s: matched %s, but the longer %s matches", method, host, p, got.Prefix, best.Prefix)
		}
	})
}

// routeMatches is the documented rule: a prefix ending in "/" matches
// paths below it and the path without the slash; one without matches
// whole segments; host compared without port, case-insensitively; HEAD
// goes where GET does.
func routeMatches(r gateway.Route, method, host, p string) bool {
	pathOK := strings.HasPrefix(p, r.Prefix) &&
		(strings.HasSuffix(r.Prefix, "/") || len(p) == len(r.Prefix) || p[len(r.Prefix)] == '/') ||
		strings.HasSuffix(r.Prefix, "/") && p == strings.TrimSuffix(r.Prefix, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	hostOK := r.Host == "" || strings.EqualFold(r.Host, host)
	methodOK := len(r.Methods) == 0 || slices.Contains(r.Methods, method) ||
		method == "HEAD" && slices.Contains(r.Methods, "GET")
	return pathOK && hostOK && methodOK
}

// FuzzPath sends any request target, as a client would put it on the
// wire, through the gateway: no panic, no 5xx; a request only reaches the
// upstream under the route its path names, and the path the upstream sees
// (after strip_prefix) is canonical, so no dot segment or doubled slash
// sent by the client can climb out of the route.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"/v2/users/42", "/v2/users/", "/v2/users", "/v2/users/../../admin", "/v2/users/%2e%2e/admin",
		"/v2/users/%2F..%2Fadmin", "/v2/users//x", "/v2/users/a%20b?x=1", "/v2/users\\..\\admin",
		"/v1/orders/%41", "/api/./x", "*", "http://evil.example/v2/users/x", "/v2/users/%zz", "/%76%32/users/x",
	} {
		f.Add(s)
	}
	g, received := recordingGateway(f, nil, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			return // net/http answers 400 before any handler
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		out := received()
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", target, rec.Code, rec.Body)
		}
		if out == nil {
			return
		}
		route, ok := g.Match("GET", "x", req.URL.Path)
		if !ok {
			t.Fatalf("%q reached the upstream without a route", target)
		}
		p := out.URL.Path
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("%q: upstream path %q is not absolute", target, p)
		}
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if clean != p || strings.Contains(strings.ToLower(out.URL.RawPath), "%2f") {
			t.Fatalf("%q: upstream path %q (raw %q) is not canonical", target, p, out.URL.RawPath)
		}
		if route.StripPrefix {
			if want := "/" + strings.TrimPrefix(strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(route.Prefix, "/")), "/"); p != want {
				t.Fatalf("%q: upstream path %q, want %q (the rest after %s)", target, p, want, route.Prefix)
			}
		} else if want := cmp.Or(req.URL.Path, "/"); p != want { // an empty path ("A:", opaque) reaches "/" as "/"
			t.Fatalf("%q: upstream path %q, want it unchanged", target, p)
		}
	})
}
