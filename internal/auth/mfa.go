package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// MFA with TOTP (RFC 6238: 30-second steps, 6 digits, SHA-1, what every
// authenticator app speaks). Enrolment is two steps: POST /mfa/totp makes
// an unverified factor and shows its secret once; POST /mfa/totp/verify
// with a first code activates it and returns ten recovery codes, also
// shown once. From then on sign-in answers with a challenge (see
// mfa_challenge.go) instead of tokens.

// AMRRecovery is the amr value of a second factor passed with a recovery code.
const AMRRecovery = "recovery"

const (
	factorTOTP        = "totp"
	totpPeriod        = 30
	recoveryCodeCount = 10
)

// MFAFactor is a second factor as its owner sees it.
type MFAFactor struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // "totp"
	Verified  bool      `json:"verified"`
	CreatedAt time.Time `json:"createdAt"`
}

// TOTPEnrolment is the answer to POST /v1/auth/mfa/totp: the secret, as
// text, otpauth:// URI and QR code (a PNG data URL) for an authenticator app.
type TOTPEnrolment struct {
	FactorID string `json:"factorId"`
	Secret   string `json:"secret"`
	URI      string `json:"uri"`
	QRCode   string `json:"qrCode"`
}

// RecoveryCodes are shown once, when MFA is enabled or the codes renewed.
type RecoveryCodes struct {
	FactorID      string   `json:"factorId,omitempty"`
	RecoveryCodes []string `json:"recoveryCodes"`
}

var (
	errMFACode      = errs.E(errs.Invalid, "auth.mfa_invalid_code", "the code is wrong or was already used")
	errAAL2Required = errs.E(errs.Forbidden, "auth.aal2_required",
		"this needs a session signed in with a second factor")
)

// mfaRoutes registers TOTP enrolment, challenges and recovery codes.
func (s *Service) mfaRoutes(r router) {
	r.authed("GET /v1/auth/mfa/factors", s.handleListFactors)
	r.authed("POST /v1/auth/mfa/totp", s.handleEnrollTOTP)
	r.authed("POST /v1/auth/mfa/totp/verify", s.handleVerifyTOTP)
	r.authed("DELETE /v1/auth/mfa/{factorId}", s.handleDeleteFactor)
	r.authed("POST /v1/auth/mfa/recovery-codes", s.handleRenewRecoveryCodes)
	r.public("POST /v1/auth/mfa/challenge", s.handleMFAChallenge)
}

// mfaUser is the user behind p; MFA is managed by people, in a session.
func (s *Service) mfaUser(ctx context.Context, p *authn.Principal) (User, error) {
	if err := firstParty(p); err != nil {
		return User{}, err
	}
	if p.Kind != authn.KindUser || p.SessionID == "" {
		return User{}, errs.E(errs.Forbidden, "auth.not_a_user", "this token does not belong to a user")
	}
	return userByID(ctx, s.DB.SQL(), p.Subject)
}

// EnrollTOTP starts a TOTP enrolment for the caller. An earlier unfinished
// enrolment is replaced; a user whose MFA is on must remove the factor first.
func (s *Service) EnrollTOTP(ctx context.Context, p *authn.Principal) (TOTPEnrolment, error) {
	u, err := s.mfaUser(ctx, p)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if u.MFAEnabled {
		return TOTPEnrolment{}, errs.E(errs.Conflict, "auth.mfa_already_enabled",
			"an authenticator is already set up; remove it before adding another")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.totpIssuer(), AccountName: u.Email, SecretSize: 20})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	png, err := qrcode.Encode(key.URL(), qrcode.Medium, 256)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	f := mfaFactor{MFAFactor: MFAFactor{ID: newID(), Type: factorTOTP, CreatedAt: s.now()}, userID: u.ID}
	if f.secret, err = s.seal(f.ID, []byte(key.Secret())); err != nil {
		return TOTPEnrolment{}, err
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := deleteFactors(ctx, tx, u.ID, true, ""); err != nil {
			return err
		}
		if err := insertFactor(ctx, tx, f); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, "mfa.enrolment_started", f.ID, map[string]any{"type": factorTOTP})
	})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{FactorID: f.ID, Secret: key.Secret(), URI: key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)}, nil
}

// totpIssuer names the service in authenticator apps: the site's host.
func (s *Service) totpIssuer() string {
	if u, err := url.Parse(s.opts.SiteURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "bam"
}

// VerifyTOTP activates an enrolled factor with a first code and returns
// the recovery codes. Wrong codes are throttled per user.
func (s *Service) VerifyTOTP(ctx context.Context, p *authn.Principal, factorID, code string) (RecoveryCodes, error) {
	u, err := s.mfaUser(ctx, p)
	if err != nil {
		return RecoveryCodes{}, err
	}
	key := throttle.AccountKey(throttle.MFA, u.ID)
	if err := s.checkThrottle(ctx, key); err != nil {
		return RecoveryCodes{}, err
	}
	f, err := factorByID(ctx, s.DB.SQL(), u.ID, factorID)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if f.Verified {
		return RecoveryCodes{}, errs.E(errs.Conflict, "auth.mfa_already_enabled", "this factor is already verified")
	}
	if err := s.mfaAttempt(ctx, key); err != nil {
		return RecoveryCodes{}, err
	}
	step, err := s.matchTOTP(f, code)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if step == 0 {
		return RecoveryCodes{}, s.mfaFailed(ctx, u.ID, "enrolment")
	}
	codes, hashes := s.newRecoveryCodes(u.ID)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		ok, err := acceptStep(ctx, tx, f.ID, step, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errMFACode
		}
		if err := replaceRecoveryCodes(ctx, tx, u.ID, hashes); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, u.ID, "mfa.enabled", f.ID, map[string]any{"type": factorTOTP}); err != nil {
			return err
		}
		u.MFAEnabled = true
		return s.emit(ctx, tx, EventMFAEnabled, u.ID, userEvent(u))
	})
	if err != nil {
		return RecoveryCodes{}, err
	}
	_ = s.Throttle.Reset(ctx, key)
	return RecoveryCodes{FactorID: f.ID, RecoveryCodes: codes}, nil
}

// DeleteFactor removes one of the caller's factors. Removing a verified
// one needs an aal2 session: whoever stole a password must not be able to
// switch the second factor off. Without verified factors left, the
// recovery codes go too.
func (s *Service) DeleteFactor(ctx context.Context, p *authn.Principal, factorID string) error {
	u, err := s.mfaUser(ctx, p)
	if err != nil {
		return err
	}
	f, err := factorByID(ctx, s.DB.SQL(), u.ID, factorID)
	if err != nil {
		return err
	}
	if f.Verified && p.AAL != AAL2 {
		return errAAL2Required
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := deleteFactors(ctx, tx, u.ID, false, f.ID); err != nil {
			return err
		}
		left, err := factorsOf(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			if err := replaceRecoveryCodes(ctx, tx, u.ID, nil); err != nil {
				return err
			}
		}
		if !f.Verified {
			return nil
		}
		if err := s.audit(ctx, tx, u.ID, "mfa.disabled", f.ID, map[string]any{"type": f.Type}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventUserUpdated, u.ID, userEvent(u))
	})
}

// RenewRecoveryCodes replaces the caller's recovery codes (aal2 only).
func (s *Service) RenewRecoveryCodes(ctx context.Context, p *authn.Principal) (RecoveryCodes, error) {
	u, err := s.mfaUser(ctx, p)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if !u.MFAEnabled {
		return RecoveryCodes{}, errs.E(errs.Conflict, "auth.mfa_not_enabled", "MFA is not enabled")
	}
	if p.AAL != AAL2 {
		return RecoveryCodes{}, errAAL2Required
	}
	codes, hashes := s.newRecoveryCodes(u.ID)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := replaceRecoveryCodes(ctx, tx, u.ID, hashes); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, "mfa.recovery_codes_renewed", u.ID, nil)
	})
	if err != nil {
		return RecoveryCodes{}, err
	}
	return RecoveryCodes{RecoveryCodes: codes}, nil
}

// matchTOTP returns the step code belongs to, among the steps next to now
// (one step of clock skew either way) that are later than the factor's
// last accepted one, or 0. Every candidate is compared in constant time.
func (s *Service) matchTOTP(f mfaFactor, code string) (int64, error) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, nil
	}
	secret, err := s.unseal(f.ID, f.secret)
	if err != nil {
		return 0, err
	}
	now := s.now().Unix() / totpPeriod
	var found int64
	for _, step := range []int64{now - 1, now, now + 1} {
		if step <= f.lastStep {
			continue
		}
		want, err := hotp.GenerateCodeCustom(string(secret), uint64(step),
			hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found, nil
}

// newRecoveryCodes returns fresh codes (xxxx-xxxx-xxxx, 60 bits each) and
// their stored hashes.
func (s *Service) newRecoveryCodes(userID string) (codes, hashes []string) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range recoveryCodeCount {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c := strings.ToLower(enc.EncodeToString(b[:]))[:12]
		codes = append(codes, c[:4]+"-"+c[4:8]+"-"+c[8:])
		hashes = append(hashes, s.recoveryHash(userID, c))
	}
	return codes, hashes
}

// normalizeRecoveryCode accepts a code with or without dashes, any case.
func normalizeRecoveryCode(c string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(c))
}

func (s *Service) checkThrottle(ctx context.Context, keys ...string) error {
	retry, err := s.Throttle.Check(ctx, keys...)
	if err != nil {
		return err
	}
	if retry > 0 {
		return tooManyAttempts(retry)
	}
	return nil
}

// mfaAttempt counts a second-factor code against the user's throttle key
// right before it is compared, or refuses it while the key is blocked: one
// atomic step, so that codes sent at once, on many mfa_tokens, get no more
// guesses than the allowance (a checkThrottle before it only answers a
// blocked account early, counting nothing). A right code Resets the key.
func (s *Service) mfaAttempt(ctx context.Context, key string) error {
	return spend(ctx, s.Throttle, key)
}

// mfaFailed records a wrong second-factor code (mfaAttempt counted it).
func (s *Service) mfaFailed(ctx context.Context, userID, step string) error {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.audit(ctx, tx, userID, "mfa.failed", userID, map[string]any{"step": step}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventLoginFailed, userID,
			LoginFailedEvent{Sub: userID, Method: "mfa", IP: clientFrom(ctx).IP, Reason: "wrong_code"})
	})
	if err != nil {
		return err
	}
	return errMFACode
}

func (s *Service) handleListFactors(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u, err := s.mfaUser(r.Context(), p)
	var list []mfaFactor
	if err == nil {
		list, err = factorsOf(r.Context(), s.DB.SQL(), u.ID, false)
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := httpx.List[MFAFactor]{Items: []MFAFactor{}}
	for _, f := range list {
		out.Items = append(out.Items, f.MFAFactor)
	}
	_ = httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) handleEnrollTOTP(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	e, err := s.EnrollTOTP(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, e)
}

func (s *Service) handleVerifyTOTP(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var req struct {
		FactorID string `json:"factorId"`
		Code     string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	codes, err := s.VerifyTOTP(r.Context(), p, req.FactorID, req.Code)
	if err != nil {
		retryAfterHeader(w, err)
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, codes)
}

func (s *Service) handleDeleteFactor(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := s.DeleteFactor(r.Context(), p, r.PathValue("factorId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleRenewRecoveryCodes(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	codes, err := s.RenewRecoveryCodes(r.Context(), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = httpx.WriteJSON(w, http.StatusOK, codes)
}
