package content

import (
	"net/http"

	"github.com/bamhq/bam/internal/authn"
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
	auth := authn.Middleware(s.Verifier, s.APIKeys)
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
	hub := func(w http.ResponseWriter, r *http.Request, _ caller) { s.Hub.ServeHTTP(w, r) }
	r.open("GET /v1/realtime", hub)
	r.open("POST /v1/realtime", hub)
	return httpx.Stack(Name, s.Log, mux)
}
