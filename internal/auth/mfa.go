package auth

import (
	"context"

	"github.com/bamhq/bam/internal/errs"
)

// mfaChallenge answers a first-factor success for a user with MFA.
// TOTP enrolment is not built yet, so no user has MFA enabled and this is
// not reached; it refuses rather than skipping the second factor.
func (s *Service) mfaChallenge(ctx context.Context, u User, amr []string) (TokenResponse, error) {
	return TokenResponse{}, errs.E(errs.Unavailable, "auth.mfa_unavailable", "multi-factor sign-in is not available yet")
}

// mfaRoutes registers TOTP enrolment, challenges and recovery codes.
func (s *Service) mfaRoutes(r router) {}
