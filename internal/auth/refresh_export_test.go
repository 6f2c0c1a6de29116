package auth

import (
	"context"
	"fmt"
)

// RefreshBatch runs the refreshes of tokens as one batch, in one
// transaction, and returns each one's answer and error, for tests in
// package auth_test. Refresh i comes from IP 192.0.2.(i+1).
func (s *Service) RefreshBatch(ctx context.Context, tokens []string) ([]TokenResponse, []error) {
	jobs := make([]*refreshJob, len(tokens))
	for i, tok := range tokens {
		jobs[i] = &refreshJob{token: tok, caller: client{IP: fmt.Sprintf("192.0.2.%d", i+1)}}
	}
	s.refreshBatch(ctx, jobs)
	resps, errs := make([]TokenResponse, len(jobs)), make([]error, len(jobs))
	for i, j := range jobs {
		resps[i], errs[i] = s.refreshAnswer(ctx, j)
	}
	return resps, errs
}
