package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bamhq/bam/internal/httpx"
)

// DocSource is a service behind the gateway that serves its own OpenAPI
// document.
type DocSource struct {
	Name string
	// Path of its document, e.g. /v1/auth/openapi.json.
	Path string
	// Transport reaches the service: in-process or its pool of replicas,
	// the same round tripper its routes use.
	Transport http.RoundTripper
}

// Docs serves GET /openapi.json, the merged OpenAPI document of the
// services behind the gateway plus stubs for users' routes, and GET /docs,
// a page listing it. Sources are fetched lazily: on the first request,
// again once MaxAge has passed (sooner after a failure), and after
// Invalidate (a reload). A source that cannot be fetched keeps its last
// good document.
type Docs struct {
	Sources []DocSource
	// Gateway's user routes (gateway.routes) are added as path stubs.
	Gateway *Gateway
	// MaxAge is how long fetched documents are used (1m).
	MaxAge time.Duration
	Log    *slog.Logger

	mu      sync.Mutex // one fetch at a time
	fetched time.Time
	stale   bool // a source failed: try again soon
	docs    map[string]map[string]any
}

// Invalidate makes the next request fetch the documents again.
func (d *Docs) Invalidate() {
	d.mu.Lock()
	d.fetched = time.Time{}
	d.mu.Unlock()
}

// docsPath reports whether path is one Docs.Wrap serves.
func docsPath(path string) bool { return path == "/openapi.json" || path == "/docs" }

// Wrap serves /docs and /openapi.json itself and everything else with next.
func (d *Docs) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !docsPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		securityHeaders(w, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			docsMethodNotAllowed.ServeHTTP(w, r)
			return
		}
		doc := d.Document(r.Context())
		if r.URL.Path == "/docs" {
			d.servePage(w, doc)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	})
}

// docsMethodNotAllowed answers the methods /docs and /openapi.json do not
// serve, as problem+json like every other answer of the gateway.
var docsMethodNotAllowed = httpx.MethodNotAllowedHandler(http.MethodGet, http.MethodHead)

// Document returns the merged document.
func (d *Docs) Document(ctx context.Context) map[string]any {
	return merge(d.sources(ctx), d.userRoutes())
}

// sources returns each source's document, fetching when stale.
func (d *Docs) sources(ctx context.Context) []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	maxAge := d.MaxAge
	if maxAge <= 0 {
		maxAge = time.Minute
	}
	if d.stale {
		maxAge = min(maxAge, 5*time.Second)
	}
	if time.Since(d.fetched) > maxAge {
		d.fetchLocked(ctx)
	}
	out := []map[string]any{}
	for _, s := range d.Sources {
		if doc := d.docs[s.Name]; doc != nil {
			out = append(out, doc)
		}
	}
	return out
}

func (d *Docs) fetchLocked(ctx context.Context) {
	if d.docs == nil {
		d.docs = map[string]map[string]any{}
	}
	d.stale = false
	for _, s := range d.Sources {
		doc, err := fetchDoc(ctx, s)
		if err != nil {
			d.stale = true
			if d.Log != nil {
				d.Log.WarnContext(ctx, "gateway: OpenAPI document not fetched", "service", s.Name, "err", err)
			}
			continue
		}
		d.docs[s.Name] = doc
	}
	d.fetched = time.Now()
}

func fetchDoc(ctx context.Context, s DocSource) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Name+s.Path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.Transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.Path, resp.Status)
	}
	var doc map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.Path, err)
	}
	return doc, nil
}

// userRoutes are the routes from gateway.routes.
func (d *Docs) userRoutes() []Route {
	if d.Gateway == nil {
		return nil
	}
	var out []Route
	for _, r := range d.Gateway.Routes() {
		if !r.Builtin {
			out = append(out, r)
		}
	}
	return out
}

// merge combines services' documents: their paths, tags and components
// (the first definition of a name wins), with each document's top-level
// security moved into its operations so that it keeps applying only to
// them; then users' routes as stubs.
func merge(docs []map[string]any, routes []Route) map[string]any {
	paths := map[string]any{}
	components := map[string]any{}
	var tags []any
	tagSeen := map[string]bool{}
	for _, doc := range docs {
		security, hasSecurity := doc["security"]
		for p, item := range asMap(doc["paths"]) {
			if _, dup := paths[p]; dup {
				continue
			}
			it := maps.Clone(asMap(item))
			for method, op := range it {
				if !isOperation(method) || !hasSecurity {
					continue
				}
				o := maps.Clone(asMap(op))
				if _, own := o["security"]; !own {
					o["security"] = security
				}
				it[method] = o
			}
			paths[p] = it
		}
		for kind, defs := range asMap(doc["components"]) {
			into := asMap(components[kind])
			if into == nil {
				into = map[string]any{}
				components[kind] = into
			}
			for name, def := range asMap(defs) {
				if _, dup := into[name]; !dup {
					into[name] = def
				}
			}
		}
		for _, t := range asSlice(doc["tags"]) {
			if name, _ := asMap(t)["name"].(string); name != "" && !tagSeen[name] {
				tagSeen[name] = true
				tags = append(tags, t)
			}
		}
	}
	if len(routes) > 0 {
		tags = append(tags, map[string]any{"name": userTag,
			"description": "Routes to your own services, from gateway.routes in bam.yaml; their upstreams document the details."})
		_, bearer := asMap(components["securitySchemes"])["bearerAuth"]
		for _, r := range routes {
			addRouteStub(paths, r, bearer)
		}
	}
	out := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "bam API", "version": "1",
			"description": "Every API behind the bam gateway: the built-in services' documents merged, and your own routes. Errors are RFC 9457 problem details."},
		"paths": paths,
	}
	if len(docs) > 0 {
		if servers, ok := docs[0]["servers"]; ok {
			out["servers"] = servers
		}
	}
	if len(components) > 0 {
		out["components"] = components
	}
	if len(tags) > 0 {
		out["tags"] = tags
	}
	return out
}

const userTag = "your services"

// addRouteStub documents a user route: a path under its prefix, one
// operation per allowed method (any, when not limited).
func addRouteStub(paths map[string]any, r Route, bearer bool) {
	path := strings.TrimSuffix(r.Prefix, "/") + "/{path}"
	if _, dup := paths[path]; dup {
		return
	}
	methods := r.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	}
	desc := fmt.Sprintf("Proxied to your service behind %s (auth %s).", r.Prefix, cmp.Or(string(r.Auth), "optional"))
	if len(r.Roles) > 0 {
		desc += " Needs one of the roles " + strings.Join(r.Roles, ", ") + "."
	}
	if len(r.Permissions) > 0 {
		desc += " Needs the permissions " + strings.Join(r.Permissions, ", ") + "."
	}
	item := map[string]any{"parameters": []any{map[string]any{
		"name": "path", "in": "path", "required": true, "schema": map[string]any{"type": "string"},
		"description": "The rest of the path, passed on to the upstream",
	}}}
	for _, m := range methods {
		op := map[string]any{
			"tags":        []any{userTag},
			"summary":     "Your service at " + r.Prefix,
			"description": desc,
			"responses":   map[string]any{"default": map[string]any{"description": "The upstream's response"}},
		}
		if r.Deprecated {
			op["deprecated"] = true
		}
		switch {
		case r.Auth == AuthNone || !bearer:
			op["security"] = []any{}
		case r.Auth == AuthRequired:
			op["security"] = []any{map[string]any{"bearerAuth": []any{}}}
		}
		item[strings.ToLower(m)] = op
	}
	paths[path] = item
}

var operations = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func isOperation(key string) bool { return slices.Contains(operations, key) }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }
