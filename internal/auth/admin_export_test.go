package auth

import (
	"context"
	"io"
)

// BootstrapAdmin exposes bootstrapAdmin to the scenario tests.
func (s *Service) BootstrapAdmin(ctx context.Context, publicURL string, w io.Writer) error {
	return s.bootstrapAdmin(ctx, publicURL, w)
}
