package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// Signing in to an account with MFA takes two requests. The first factor
// (password grant, or a code or link) answers HTTP 200 with a challenge
// instead of tokens:
//
//	{"mfa_required": true, "mfa_token": "bamm_…", "factors": [{"id": "…", "type": "totp"}]}
//
// There is no access_token in it, so an OAuth library that does not know
// bam fails cleanly rather than signing in half-way. The client then posts
// the mfa_token with a code from the authenticator app, or a recovery code:
//
//	POST /v1/auth/mfa/challenge {"mfa_token": "bamm_…", "code": "123456"}
//	POST /v1/auth/mfa/challenge {"mfa_token": "bamm_…", "recovery_code": "abcd-efgh-ijkl"}
//
// and gets the token response, its session at aal2 with amr
// [pwd, mfa, totp] (or [pwd, mfa, recovery]). The mfa_token is single-use,
// lives 5 minutes and dies after 5 wrong codes; every code also counts
// against the user's MFA throttle, before it is compared (mfaAttempt), and
// a right one forgives them; TOTP codes work once (the step is recorded)
// and recovery codes once each.

// MFAChallenge is what a first-factor success returns for a user with MFA,
// in place of tokens (snake_case: it answers the token endpoint).
type MFAChallenge struct {
	Required bool        `json:"mfa_required"`
	Token    string      `json:"mfa_token"`
	Factors  []MFAFactor `json:"factors"`
}

const (
	mfaTokenPrefix      = "bamm_"
	mfaChallengeTTL     = 5 * time.Minute
	maxChallengeAttempt = 5
)

var errMFATokenInvalid = errs.E(errs.Invalid, "auth.mfa_token_invalid",
	"the mfa_token is invalid, expired or used; sign in again")

// mfaChallenge answers a first-factor success for a user with MFA: a
// single-use token to present with the second factor.
func (s *Service) mfaChallenge(ctx context.Context, u User, amr []string) (TokenResponse, error) {
	factors, err := factorsOf(ctx, s.DB.SQL(), u.ID, true)
	if err != nil {
		return TokenResponse{}, err
	}
	token := randomToken(mfaTokenPrefix)
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertChallenge(ctx, tx, hashToken(token), u.ID, amr, now, now.Add(mfaChallengeTTL)); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, "mfa.challenged", u.ID, map[string]any{"amr": amr})
	})
	if err != nil {
		return TokenResponse{}, err
	}
	c := &MFAChallenge{Required: true, Token: token, Factors: []MFAFactor{}}
	for _, f := range factors {
		c.Factors = append(c.Factors, f.MFAFactor)
	}
	return TokenResponse{MFAChallenge: c}, nil
}

// MFAChallengeRequest is the body of POST /v1/auth/mfa/challenge: the
// mfa_token and either a TOTP code or a recovery code.
type MFAChallengeRequest struct {
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code,omitempty"`
	RecoveryCode string `json:"recovery_code,omitempty"`
}

// CompleteMFA checks the second factor of a challenge and starts the
// session at aal2.
func (s *Service) CompleteMFA(ctx context.Context, req MFAChallengeRequest) (TokenResponse, error) {
	if (req.Code == "") == (req.RecoveryCode == "") {
		return TokenResponse{}, errs.E(errs.Invalid, "auth.invalid_request", "send either code or recovery_code").
			WithField("code", "required", "a TOTP code, or recovery_code instead")
	}
	now := s.now()
	c, err := challengeByHash(ctx, s.DB.SQL(), hashToken(req.MFAToken))
	if errors.Is(err, errNoChallenge) || (err == nil && (c.used || !now.Before(c.expiresAt))) {
		return TokenResponse{}, errMFATokenInvalid
	}
	if err != nil {
		return TokenResponse{}, err
	}
	key := throttle.AccountKey(throttle.MFA, c.userID)
	if err := s.checkThrottle(ctx, key); err != nil {
		return TokenResponse{}, err
	}
	if c.attempts >= maxChallengeAttempt {
		return TokenResponse{}, errMFATokenInvalid
	}
	u, err := userByID(ctx, s.DB.SQL(), c.userID)
	if errors.Is(err, errUserNotFound) || (err == nil && u.Disabled) {
		return TokenResponse{}, errMFATokenInvalid
	}
	if err != nil {
		return TokenResponse{}, err
	}
	// Claim one of the account's attempts and one of the challenge's
	// before comparing anything, each committed at once: concurrent
	// guesses, on one mfa_token or many, can't slip past either limit, and
	// a wrong code needs no counting afterwards.
	if err := s.mfaAttempt(ctx, key); err != nil {
		return TokenResponse{}, err
	}
	if claimed, err := claimChallengeAttempt(ctx, s.DB.SQL(), c.hash); err != nil {
		return TokenResponse{}, err
	} else if !claimed {
		return TokenResponse{}, errMFATokenInvalid
	}

	// Find what the second factor proves, then spend it in the session's
	// transaction: a lost race (the same code twice at once) fails there.
	var (
		factor mfaFactor
		step   int64
		method = AMRRecovery
	)
	if req.Code != "" {
		method = AMRTOTP
		factors, err := factorsOf(ctx, s.DB.SQL(), u.ID, true)
		if err != nil {
			return TokenResponse{}, err
		}
		for _, f := range factors {
			if step, err = s.matchTOTP(f, req.Code); err != nil {
				return TokenResponse{}, err
			} else if step != 0 {
				factor = f
				break
			}
		}
	}
	var resp TokenResponse
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var (
			ok  bool
			err error
		)
		if method == AMRTOTP && step != 0 {
			if ok, err = acceptStep(ctx, tx, factor.ID, step, now); err != nil {
				return err
			}
		} else if method == AMRRecovery {
			hash := s.recoveryHash(u.ID, normalizeRecoveryCode(req.RecoveryCode))
			if ok, err = spendRecoveryCode(ctx, tx, u.ID, hash, now); err != nil {
				return err
			}
		}
		if !ok {
			return errMFACode
		}
		if spent, err := spendChallenge(ctx, tx, c.hash, now); err != nil {
			return err
		} else if !spent {
			return errMFATokenInvalid
		}
		amr := append(append([]string{}, c.amr...), AMRMFA, method)
		resp, err = s.startSession(ctx, tx, u, amr, AAL2)
		return err
	})
	if errors.Is(err, errMFACode) {
		return TokenResponse{}, s.mfaFailed(ctx, u.ID, method)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	_ = s.Throttle.Reset(ctx, key)
	return resp, nil
}

// claimChallengeAttempt counts one attempt on the unused challenge behind
// hash if it has any left, and reports whether it did. One conditional
// UPDATE: concurrent claims serialize on the row, so at most
// maxChallengeAttempt of them succeed.
func claimChallengeAttempt(ctx context.Context, q store.Querier, hash string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE auth_codes SET attempts = attempts + 1
		WHERE hash = $1 AND kind = $2 AND attempts < $3 AND used_at IS NULL`,
		hash, kindMFAChallenge, maxChallengeAttempt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *Service) handleMFAChallenge(w http.ResponseWriter, r *http.Request) {
	var req MFAChallengeRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	resp, err := s.CompleteMFA(r.Context(), req)
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, resp)
}
