package auth

// apiKeyRoutes registers API key management and verification.
func (s *Service) apiKeyRoutes(r router) {}
