package auth

import (
	"encoding/json"
	"mime"
	"net/http"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// Routes the gateway sends to this service.
var Routes = []string{"/v1/auth/", "/.well-known/"}

// Handler is the service's HTTP API: routes in their middleware stack.
// Every request's caller address goes into its context for sessions, audit
// and throttles; bearer tokens are verified here, never trusted from a
// header.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	// Middleware goes inside the mux, per route, so the mux sets the route
	// pattern on the request the metrics and logs see.
	keys := s.apiKeyVerifier() // API keys accepted too, checked in-process (apikeys.go)
	wrap := func(h http.Handler) http.Handler {
		return s.withClientInfo(authn.NameKeyClient(s.opts.TrustedProxies, authn.Middleware(s.verifier, keys)(h)))
	}
	r := router{
		public: func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, wrap(h)) },
		authed: func(pattern string, h func(http.ResponseWriter, *http.Request, *authn.Principal)) {
			mux.Handle(pattern, wrap(authn.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := authn.FromContext(r.Context())
				h(w, r, p)
			}))))
		},
	}
	r = s.docRoutes(r) // GET /v1/auth/openapi.json; tests observe every route registered below
	r.public("POST /v1/auth/signup", s.handleSignUp)
	r.public("POST /v1/auth/token", s.handleToken)
	r.authed("POST /v1/auth/logout", s.handleLogout)
	r.authed("GET /v1/auth/user", s.handleGetUser)
	r.authed("PATCH /v1/auth/user", s.handleUpdateUser)
	r.authed("GET /v1/auth/sessions", s.handleSessions)
	r.authed("DELETE /v1/auth/sessions/{id}", s.handleRevokeSession)
	r.public("GET /.well-known/jwks.json", s.handleJWKS)
	r.public("GET /.well-known/openid-configuration", s.handleDiscovery)
	s.verifyRoutes(r)
	s.mfaRoutes(r)
	s.apiKeyRoutes(r)
	s.adminRoutes(r)
	s.oauthRoutes(r)
	return httpx.Stack("auth", s.Log, mux)
}

// router registers a feature's routes: public ones, and ones that need a
// verified caller (the handler gets the Principal).
type router struct {
	public func(pattern string, h http.HandlerFunc)
	authed func(pattern string, h func(http.ResponseWriter, *http.Request, *authn.Principal))
}

// withClientInfo puts where the request came from into its context
// (clientFrom).
func (s *Service) withClientInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withClient(r.Context(), clientOf(r, s.opts.TrustedProxies))))
	})
}

// keyClient is the caller of the service's own key check (apiKeyVerifier):
// this process, never the network, so the client that check names in
// X-Forwarded-For (authn.NameKeyClient) is the one a refused key counts
// against.
func keyClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := client{IP: r.Header.Get("X-Forwarded-For"), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(withClient(r.Context(), c)))
	})
}

func (s *Service) handleSignUp(w http.ResponseWriter, r *http.Request) {
	var req SignUpRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u, err := s.SignUp(r.Context(), req)
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusCreated, u)
}

// tokenRequest is the token endpoint's input, form-encoded (RFC 6749) or JSON.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	// authorization_code (code_grant.go); client_* also from Basic auth.
	Code         string `json:"code"`
	RedirectURI  string `json:"redirect_uri"`
	CodeVerifier string `json:"code_verifier"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	req, err := decodeTokenRequest(w, r)
	if err != nil {
		writeTokenError(w, r, err)
		return
	}
	var resp TokenResponse
	switch req.GrantType {
	case "password":
		resp, err = s.SignInWithPassword(r.Context(), req.Username, req.Password)
	case "refresh_token":
		resp, err = s.refreshGrant(r, req) // session_client.go
	case "authorization_code":
		resp, err = s.ExchangeCode(r.Context(), codeGrantOf(r, req))
	case "client_credentials":
		resp, err = s.clientCredentialsGrant(r, req) // clients.go
	case "":
		err = errs.E(errs.Invalid, "auth.invalid_request", "grant_type is required").
			WithField("grant_type", "required", "password or refresh_token")
	default:
		err = errs.E(errs.Invalid, "auth.unsupported_grant_type", "grant_type %q is not supported", req.GrantType)
	}
	if err != nil {
		writeTokenError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // RFC 6749 §5.1
	_ = httpx.WriteJSON(w, http.StatusOK, resp)
}

// decodeTokenRequest reads a form-encoded or JSON body, size-limited.
func decodeTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, error) {
	var req tokenRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return req, httpx.DecodeJSON(w, r, &req)
	}
	f, err := readForm(w, r)
	if err != nil {
		return req, err
	}
	return tokenRequest{GrantType: f.Get("grant_type"), Username: f.Get("username"), Password: f.Get("password"),
		RefreshToken: f.Get("refresh_token"), Scope: f.Get("scope"), Code: f.Get("code"),
		RedirectURI: f.Get("redirect_uri"), CodeVerifier: f.Get("code_verifier"), ClientID: f.Get("client_id"),
		ClientSecret: f.Get("client_secret")}, nil
}

// oauthErrors maps bam codes to RFC 6749 §5.2 error codes.
var oauthErrors = map[string]string{
	"auth.invalid_credentials":    "invalid_grant",
	"auth.refresh_token_invalid":  "invalid_grant",
	"auth.refresh_token_reused":   "invalid_grant",
	"auth.auth_code_invalid":      "invalid_grant",
	"auth.auth_code_reused":       "invalid_grant",
	"auth.email_not_verified":     "invalid_grant",
	"auth.unsupported_grant_type": "unsupported_grant_type",
	"auth.invalid_client":         "invalid_client",
	"auth.unauthorized_client":    "unauthorized_client",
	"auth.invalid_scope":          "invalid_scope",
	"auth.too_many_attempts":      "too_many_requests",
}

// writeTokenError answers a token endpoint failure in both shapes at once:
// RFC 6749's error and error_description members inside an RFC 9457
// problem, so OAuth libraries and bam clients both understand it.
func writeTokenError(w http.ResponseWriter, r *http.Request, err error) {
	kind := errs.KindOf(err)
	retryAfterHeader(w, err)
	if kind == errs.Internal || kind == errs.Unavailable {
		httpx.WriteError(w, r, err) // logged, generic
		return
	}
	p := httpx.ProblemOf(r, err)
	oauth := oauthErrors[p.Code]
	if oauth == "" {
		oauth = "invalid_request"
	}
	if _, _, basic := r.BasicAuth(); basic && oauth == "invalid_client" {
		// RFC 6749 §5.2: a client that authenticated with the
		// Authorization header is answered 401 with the scheme it used.
		w.Header().Set("WWW-Authenticate", `Basic realm="bam"`)
	}
	w.Header().Set("Content-Type", httpx.ContentTypeProblem)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(struct {
		httpx.Problem
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}{p, oauth, p.Detail})
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	scope := r.URL.Query().Get("scope")
	if err := s.Logout(r.Context(), p, scope); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleGetUser(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u, err := s.CurrentUser(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, u)
}

func (s *Service) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req UpdateUserRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u, err := s.UpdateUser(r.Context(), p, req)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, u)
}

func (s *Service) handleSessions(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	list, err := s.Sessions(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, httpx.List[Session]{Items: nonNilSessions(list)})
}

func (s *Service) handleRevokeSession(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := s.RevokeSession(r.Context(), p, r.PathValue("id")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := s.JWKS(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = httpx.WriteJSON(w, http.StatusOK, set)
}

func (s *Service) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_ = httpx.WriteJSON(w, http.StatusOK, s.Discovery())
}

func nonNilSessions(l []Session) []Session {
	if l == nil {
		return []Session{}
	}
	return l
}
