package auth

import (
	"context"
	"errors"
	"time"

	"github.com/bamhq/bam/internal/store"
)

// A batch of refreshes in one transaction (refresh_batch.go queues them).

// refreshBatch rotates jobs in one transaction and sets their outcome. If
// that transaction fails, each job runs again in a transaction of its own,
// so that the one at fault gets the error and the others their tokens.
func (s *Service) refreshBatch(ctx context.Context, jobs []*refreshJob) {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error { return s.rotateBatch(ctx, tx, jobs, s.now()) })
	if err != nil && len(jobs) > 1 {
		for _, j := range jobs {
			s.refreshBatch(ctx, []*refreshJob{j})
		}
		return
	}
	if err != nil {
		jobs[0].err = err // a lone job: a batch that failed ran again one job at a time
	}
}

// rotateBatch rotates the tokens of jobs, setting each job's outcome, and
// returns an error only for a failure of the transaction. It does what
// rotating one job after the other would, with fewer statements: the jobs
// whose token and session no other job of the batch has, and whose token
// is unused, are independent of each other and of the rest, so they rotate
// together, with four statements for all of them; the others (two tabs in
// one batch, a token used before) rotate one by one afterwards.
func (s *Service) rotateBatch(ctx context.Context, tx *store.Tx, jobs []*refreshJob, now time.Time) error {
	hashes := make([]string, 0, len(jobs))
	hashOf := make(map[*refreshJob]string, len(jobs))
	perHash := make(map[string]int, len(jobs))
	for _, j := range jobs {
		j.r, j.err = rotation{now: now}, nil // a retried transaction starts over
		h := hashToken(j.token)
		hashOf[j] = h
		if perHash[h]++; perHash[h] == 1 {
			hashes = append(hashes, h)
		}
	}
	rows, err := refreshRows(ctx, tx, hashes)
	if err != nil {
		return err
	}
	perSession := make(map[string]int, len(rows))
	for _, row := range rows {
		perSession[row.sess.ID] += perHash[row.rt.hash]
	}
	var together []*refreshJob
	alone := make(map[*refreshJob]bool)
	for _, j := range jobs {
		row := rows[hashOf[j]]
		switch {
		case row == nil:
			j.err = errRefreshInvalid
		case perSession[row.sess.ID] > 1 || row.rt.usedAt != nil:
			alone[j] = true
		default:
			if j.err = refreshable(row.rt, row.sess, row.user, j.client, now); j.err == nil {
				together = append(together, j)
			}
		}
	}
	if len(together) > 0 {
		raced, err := s.rotateTogether(ctx, tx, together, rows, hashOf, now)
		if err != nil {
			return err
		}
		for _, j := range raced {
			alone[j] = true
		}
	}
	for _, j := range jobs { // in the batch's order
		if !alone[j] {
			continue
		}
		j.r, j.err = s.rotate(withClient(ctx, j.caller), tx, j.token, j.client, now) // its audit names its caller
		if j.err != nil && !refusal(j.err) {
			return j.err
		}
	}
	return nil
}

// rotateTogether rotates jobs, whose tokens and sessions are distinct and
// were unused when read, and returns those whose token another transaction
// used since (PostgreSQL): they go the one-by-one way.
func (s *Service) rotateTogether(ctx context.Context, tx *store.Tx, jobs []*refreshJob, rows map[string]*refreshRow,
	hashOf map[*refreshJob]string, now time.Time) (raced []*refreshJob, err error) {
	hashes := make([]string, len(jobs))
	for i, j := range jobs {
		hashes[i] = hashOf[j]
	}
	first, err := markRefreshTokensUsed(ctx, tx, hashes, now)
	if err != nil {
		return nil, err
	}
	next := make([]newRefreshToken, 0, len(jobs))
	sids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		row := rows[hashOf[j]]
		if !first[row.rt.hash] {
			raced = append(raced, j)
			continue
		}
		j.r.sess, j.r.user, j.r.roles, j.r.perms = row.sess, row.user, row.roles, row.perms
		j.r.next = s.successor(j.token)
		next = append(next, newRefreshToken{hash: hashToken(j.r.next), sessionID: row.sess.ID, expires: row.sess.ExpiresAt})
		sids = append(sids, row.sess.ID)
	}
	if len(next) == 0 {
		return raced, nil
	}
	if err := insertRefreshTokens(ctx, tx, next, now); err != nil {
		return nil, err
	}
	return raced, touchSessions(ctx, tx, sids, now)
}

// refusal reports whether err is a refresh refused for its token or
// client, rather than a failure of the database.
func refusal(err error) bool {
	return errors.Is(err, errRefreshInvalid) || errors.Is(err, errInvalidClient)
}
