package auth

import "context"

// RefreshBatch runs the refreshes of tokens as one batch, in one
// transaction, and returns each one's answer and error, for tests in
// package auth_test.
func (s *Service) RefreshBatch(ctx context.Context, tokens []string) ([]TokenResponse, []error) {
	jobs := make([]*refreshJob, len(tokens))
	for i, tok := range tokens {
		jobs[i] = &refreshJob{token: tok}
	}
	s.refreshBatch(ctx, jobs)
	resps, errs := make([]TokenResponse, len(jobs)), make([]error, len(jobs))
	for i, j := range jobs {
		resps[i], errs[i] = s.refreshAnswer(ctx, j)
	}
	return resps, errs
}
