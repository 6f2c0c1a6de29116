package records

import (
	"context"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// Insert creates a record of c from input in tx, as the service's creates
// do (Draft then Write): the tests' way to write a record in one call.
func (s *Store) Insert(ctx context.Context, tx *store.Tx, c *schema.Collection, input map[string]any, owner string, access *Access) (Record, error) {
	d, err := s.Draft(c, input, owner)
	if err != nil {
		return nil, err
	}
	return s.Write(ctx, tx, d, access)
}
