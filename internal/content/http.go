package content

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Routes the gateway sends to this service ("/v1/collections/" also
// matches "/v1/collections"). The first one's openapi.json is the API
// document.
var Routes = []string{"/v1/collections/", "/v1/realtime"}

// handlerFunc is a route's handler, given the caller (anonymous or not).
type handlerFunc func(w http.ResponseWriter, r *http.Request, who caller)

// router registers routes: open ones, which anyone may call (rules decide
// what they get), and admin ones, which need a caller holding
// AdminPermission.
type router struct {
	open  func(pattern string, h handlerFunc)
	admin func(pattern string, h handlerFunc)
}

// Handler is the service's HTTP API: routes in their middleware stack.
// Bearer tokens and API keys are verified here, never trusted from a
// header.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	verify := authn.Middleware(s.Verifier, s.APIKeys)
	auth := func(h http.Handler) http.Handler { return authn.NameKeyClient(s.opts.TrustedProxies, verify(h)) }
	with := func(h handlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := authn.FromContext(r.Context())
			h(w, r, callerOf(p))
		})
	}
	r := router{
		open: func(pattern string, h handlerFunc) { mux.Handle(pattern, auth(with(h))) },
		admin: func(pattern string, h handlerFunc) {
			mux.Handle(pattern, auth(authn.RequireAuth(with(func(w http.ResponseWriter, r *http.Request, who caller) {
				if !who.admin {
					httpx.WriteError(w, r, errAdminOnly())
					return
				}
				h(w, r, who)
			}))))
		},
	}
	r = s.docRoutes(r) // GET /v1/collections/openapi.json; tests observe every route registered below
	r.admin("GET /v1/collections", s.handleListCollections)
	r.admin("POST /v1/collections", s.handleCreateCollection)
	r.admin("GET /v1/collections/{name}", s.handleGetCollection)
	r.admin("PATCH /v1/collections/{name}", s.handleUpdateCollection)
	r.admin("DELETE /v1/collections/{name}", s.handleDeleteCollection)
	r.open("GET /v1/collections/{name}/records", s.handleList)
	r.open("POST /v1/collections/{name}/records", s.handleCreate)
	r.open("GET /v1/collections/{name}/records/{id}", s.handleView)
	r.open("PATCH /v1/collections/{name}/records/{id}", s.handleUpdate)
	r.open("PUT /v1/collections/{name}/records/{id}", s.handleUpdate)
	r.open("DELETE /v1/collections/{name}/records/{id}", s.handleDelete)
	r.open("POST /v1/collections/batch", s.handleBatch)
	hub := func(w http.ResponseWriter, r *http.Request, _ caller) {
		if !s.awaitFollowing(r.Context()) {
			w.Header().Set("Retry-After", "1")
			httpx.WriteError(w, r, errs.E(errs.Unavailable, "content.realtime_starting",
				"realtime is starting: this replica does not follow the content stream yet"))
			return
		}
		s.Hub.ServeHTTP(w, r)
	}
	r.open("GET /v1/realtime", hub)
	r.open("POST /v1/realtime", hub)
	// ProblemMux here: Stack applies it only to a bare mux, and unmatched
	// routes must answer problem+json too.
	return httpx.Stack(Name, s.Log, queryToken(httpx.ProblemMux(mux)))
}

// AccessTokenParam is the query parameter that may carry the access
// token (or API key) of GET /v1/realtime, for browsers: EventSource and
// WebSocket cannot set an Authorization header.
const AccessTokenParam = "access_token"

// queryToken moves ?access_token= of GET /v1/realtime into the
// Authorization header, where it is verified exactly like a header sent by
// the client, and out of the URL, so that nothing after reads it there.
// (The access log, traces and metrics of httpx record the path only, never
// the query.) Only that request: elsewhere tokens in URLs end up in logs
// and histories, and the parameter is left alone. Sent with an
// Authorization header too, it is refused.
func queryToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/realtime" || !strings.Contains(r.URL.RawQuery, AccessTokenParam) {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		tok, ok := q[AccessTokenParam]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if len(tok) != 1 || tok[0] == "" || r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" {
			httpx.WriteError(w, r, invalid(CodeInvalidRequest, AccessTokenParam,
				"send one access_token, and no Authorization or X-API-Key header with it"))
			return
		}
		q.Del(AccessTokenParam)
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
		r.Header.Set("Authorization", "Bearer "+tok[0])
		next.ServeHTTP(w, r)
	})
}

// followWait is how long a realtime request waits for a just-started
// replica to learn the content stream's position.
const followWait = 5 * time.Second

// awaitFollowing reports whether this replica follows the content stream,
// waiting up to followWait: a subscription accepted before that could miss
// changes committed while the follower was still finding its start.
func (s *Service) awaitFollowing(ctx context.Context) bool {
	select {
	case <-s.Following():
		return true
	default:
	}
	t := time.NewTimer(followWait)
	defer t.Stop()
	select {
	case <-s.Following():
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Streams says which requests the service answers as a stream: realtime's
// Server-Sent Events (its WebSocket is an upgrade). A listener that
// buffers whole answers (the fast lane) leaves these to net/http.
func (s *Service) Streams(path []byte) bool {
	return bytes.HasPrefix(path, []byte("/v1/realtime"))
}
