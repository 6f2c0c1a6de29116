package auth

import (
	"net/http"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/httpx"
)

// The admin API: users, roles, service accounts, sessions and the audit
// trail. Every route needs the admin permission (a user's role, a service
// account's, or an API key scoped to it); others get 403.

type adminHandler func(http.ResponseWriter, *http.Request, *authn.Principal)

// adminRoutes registers the admin API: users, roles, sessions, audit.
func (s *Service) adminRoutes(r router) {
	admin := func(pattern string, h adminHandler) {
		guarded := authn.RequirePermission(authn.AdminPermission)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			p, _ := authn.FromContext(req.Context())
			h(w, req, p)
		}))
		r.authed(pattern, func(w http.ResponseWriter, req *http.Request, p *authn.Principal) {
			if err := firstParty(p); err != nil {
				httpx.WriteError(w, req, err)
				return
			}
			guarded.ServeHTTP(w, req)
		})
	}
	admin("GET /v1/auth/admin/users", s.handleAdminListUsers)
	admin("POST /v1/auth/admin/users", s.handleAdminCreateUser)
	admin("GET /v1/auth/admin/users/{id}", s.handleAdminGetUser)
	admin("PATCH /v1/auth/admin/users/{id}", s.handleAdminUpdateUser)
	admin("DELETE /v1/auth/admin/users/{id}", s.handleAdminDeleteUser)
	admin("PUT /v1/auth/admin/users/{id}/roles", s.handleAdminSetUserRoles)
	admin("GET /v1/auth/admin/users/{id}/sessions", s.handleAdminUserSessions)
	admin("DELETE /v1/auth/admin/users/{id}/sessions", s.handleAdminRevokeSessions)

	admin("GET /v1/auth/admin/roles", s.handleAdminListRoles)
	admin("POST /v1/auth/admin/roles", s.handleAdminCreateRole)
	admin("GET /v1/auth/admin/roles/{name}", s.handleAdminGetRole)
	admin("PATCH /v1/auth/admin/roles/{name}", s.handleAdminUpdateRole)
	admin("DELETE /v1/auth/admin/roles/{name}", s.handleAdminDeleteRole)

	admin("GET /v1/auth/admin/clients", s.handleAdminListClients)
	admin("POST /v1/auth/admin/clients", s.handleAdminCreateClient)
	admin("PUT /v1/auth/admin/clients/{id}/roles", s.handleAdminSetClientRoles)
	admin("DELETE /v1/auth/admin/clients/{id}", s.handleAdminDeleteClient)

	admin("GET /v1/auth/admin/audit", s.handleAdminAudit)
}

// adminReply writes v with status, or the error.
func adminReply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	switch {
	case err != nil:
		httpx.WriteError(w, r, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		_ = httpx.WriteJSON(w, status, v)
	}
}

// adminDecode reads the JSON body into v, answering the error itself.
func adminDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := httpx.DecodeJSON(w, r, v); err != nil {
		httpx.WriteError(w, r, err)
		return false
	}
	return true
}

func (s *Service) handleAdminListUsers(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	lp, err := httpx.ParseListParams(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	list, err := s.ListUsers(r.Context(), r.URL.Query().Get("search"), lp)
	adminReply(w, r, http.StatusOK, list, err)
}

func (s *Service) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req AdminUserRequest
	if adminDecode(w, r, &req) {
		u, err := s.AdminCreateUser(r.Context(), p.Subject, req)
		adminReply(w, r, http.StatusCreated, u, err)
	}
}

func (s *Service) handleAdminGetUser(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	u, err := s.AdminUser(r.Context(), r.PathValue("id"))
	adminReply(w, r, http.StatusOK, u, err)
}

func (s *Service) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req AdminUserUpdate
	if adminDecode(w, r, &req) {
		u, err := s.AdminUpdateUser(r.Context(), p.Subject, r.PathValue("id"), req)
		adminReply(w, r, http.StatusOK, u, err)
	}
}

func (s *Service) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	adminReply(w, r, http.StatusNoContent, nil, s.AdminDeleteUser(r.Context(), p.Subject, r.PathValue("id")))
}

func (s *Service) handleAdminSetUserRoles(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req struct {
		Roles []string `json:"roles"`
	}
	if adminDecode(w, r, &req) {
		u, err := s.SetUserRoles(r.Context(), p.Subject, r.PathValue("id"), req.Roles)
		adminReply(w, r, http.StatusOK, u, err)
	}
}

func (s *Service) handleAdminUserSessions(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	id := r.PathValue("id")
	_, err := userByID(r.Context(), s.DB.SQL(), id)
	var list []Session
	if err == nil {
		list, err = activeSessions(r.Context(), s.DB.SQL(), id, s.now())
	}
	adminReply(w, r, http.StatusOK, httpx.List[Session]{Items: nonNilSessions(list)}, err)
}

func (s *Service) handleAdminRevokeSessions(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	adminReply(w, r, http.StatusNoContent, nil, s.AdminRevokeSessions(r.Context(), p.Subject, r.PathValue("id")))
}

func (s *Service) handleAdminListRoles(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	roles, err := s.Roles(r.Context())
	adminReply(w, r, http.StatusOK, httpx.List[Role]{Items: roles}, err)
}

func (s *Service) handleAdminCreateRole(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Permissions []string `json:"permissions"`
	}
	if adminDecode(w, r, &req) {
		role, err := s.CreateRole(r.Context(), p.Subject,
			Role{Name: req.Name, Description: req.Description, Permissions: req.Permissions})
		adminReply(w, r, http.StatusCreated, role, err)
	}
}

func (s *Service) handleAdminGetRole(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	role, err := s.Role(r.Context(), r.PathValue("name"))
	adminReply(w, r, http.StatusOK, role, err)
}

func (s *Service) handleAdminUpdateRole(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req RoleUpdate
	if adminDecode(w, r, &req) {
		role, err := s.UpdateRole(r.Context(), p.Subject, r.PathValue("name"), req)
		adminReply(w, r, http.StatusOK, role, err)
	}
}

func (s *Service) handleAdminDeleteRole(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	adminReply(w, r, http.StatusNoContent, nil, s.DeleteRole(r.Context(), p.Subject, r.PathValue("name")))
}

func (s *Service) handleAdminListClients(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	list, err := s.ServiceAccounts(r.Context())
	adminReply(w, r, http.StatusOK, httpx.List[ServiceAccount]{Items: list}, err)
}

func (s *Service) handleAdminCreateClient(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req ServiceAccountRequest
	if adminDecode(w, r, &req) {
		a, err := s.CreateServiceAccount(r.Context(), p.Subject, req)
		w.Header().Set("Cache-Control", "no-store")
		adminReply(w, r, http.StatusCreated, a, err)
	}
}

func (s *Service) handleAdminSetClientRoles(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req struct {
		Roles []string `json:"roles"`
	}
	if adminDecode(w, r, &req) {
		adminReply(w, r, http.StatusNoContent, nil, s.SetServiceAccountRoles(r.Context(), p.Subject, r.PathValue("id"), req.Roles))
	}
}

func (s *Service) handleAdminDeleteClient(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	adminReply(w, r, http.StatusNoContent, nil, s.DeleteServiceAccount(r.Context(), p.Subject, r.PathValue("id")))
}

func (s *Service) handleAdminAudit(w http.ResponseWriter, r *http.Request, _ *authn.Principal) {
	lp, err := httpx.ParseListParams(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, err := s.AuditTrail(r.Context(), q.Get("actor"), q.Get("action"), q.Get("target"), lp)
	adminReply(w, r, http.StatusOK, list, err)
}
